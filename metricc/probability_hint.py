"""When logits look like probabilities: the hint that a loss taking logits was given sigmoid outputs. Shared by
the NumPy and torch kernels (emitted modules inline this file); imports nothing."""

# A batch of at least this many logits, all in [0, 1] and spread over at least half of it, looks like
# probabilities (the logits of a fresh network often lie in a narrow band inside [0, 1]) ...
PROBABILITY_HINT_MIN_SIZE = 10
PROBABILITY_HINT_MIN_SPREAD = 0.5
# ... on the first call when spread over three quarters of it (a fresh network's logits can span [0.19, 0.83]:
# the paper's MLP, seed 3), or at the end of this many calls in a row whose inputs all lay in [0, 1]: a training
# network's logits pass through [0, 1] for a few steps (up to 12 in a row seen on a 64-unit MLP), probabilities
# stay there.
PROBABILITY_HINT_FIRST_SPREAD = 0.75
PROBABILITY_HINT_STREAK = 50
PROBABILITY_HINT = ("every element of `input` lies in [0, 1]: are these probabilities? The loss takes logits "
                    "(from_logits=True); pass from_logits=False for probabilities")


class ProbabilityHint:
    """`observe(x_min, x_max, numel)` per call: True once, on the call where the hint should be given."""

    def __init__(self):
        self.calls = self.streak = 0
        self.spread = self.given = False

    def observe(self, x_min, x_max, numel):
        first = self.calls == 0
        self.calls += 1
        if self.given or numel < PROBABILITY_HINT_MIN_SIZE:
            return False
        if not (0 <= x_min and x_max <= 1):
            self.streak, self.spread = 0, False
            return False
        self.streak += 1
        self.spread = self.spread or x_max - x_min >= PROBABILITY_HINT_MIN_SPREAD
        self.given = ((first and x_max - x_min >= PROBABILITY_HINT_FIRST_SPREAD)
                      or (self.spread and self.streak >= PROBABILITY_HINT_STREAK))
        return self.given
