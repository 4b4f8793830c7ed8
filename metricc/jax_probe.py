"""The L probe of the JAX backend (see metricc.lrange): whether JAX's sigmoid, or metricc's JAX kernel, keeps a
non-zero slope at both ends of [t, 1 - t] in a dtype."""

from __future__ import annotations


def jax_probe(dtype: str, kernel: str, threshold: float, ends: tuple[float, float]):
    import jax
    import jax.numpy as jnp

    from .jax_kernel import accumulated, slope

    try:
        enable_x64 = jax.enable_x64
    except AttributeError:  # an older JAX has it in jax.experimental only
        from jax.experimental import enable_x64

    def keeps_gradient(L: float) -> bool:
        # float64 exists only with x64 (the other types are the same either way); evaluated now, also where the
        # loss is first called inside jax.jit
        with enable_x64(True), jax.ensure_compile_time_eval():
            p = jnp.asarray(ends, dtype=dtype)
            if kernel != "naive":  # metricc's kernel computes narrower floats in float32
                p = accumulated(p)
            u = (p - jnp.asarray(threshold, p.dtype)) * jnp.asarray(L, p.dtype)
            if kernel == "naive":
                yh = jax.nn.sigmoid(u)
                return bool(((yh > 0) & (yh < 1)).all())
            return bool((slope(u) > 0).all())

    return keeps_gradient
