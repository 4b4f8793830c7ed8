"""Bad formulas and what metricc must answer: (formula, params, message fragment, column or None)."""

BAD_FORMULAS = [
    ("", {}, "the formula is empty", None),
    ("   \n ", {}, "the formula is empty", None),
    ("TP +", {}, "syntax error: expected a value after the operator", 5),
    ("2*TP/(2*TP+FP", {}, "syntax error: missing ')'", 14),
    ("TP + FP)", {}, "syntax error: unmatched ')'", 8),
    ("TP FP", {}, "syntax error: missing operator (or ';') between two values", 4),
    ("TP * ()", {}, "syntax error: empty parentheses", 7),
    ("TP & FP", {}, "syntax error: unexpected character '&'", 4),
    ("prec = TP/PP;", {}, "syntax error: the formula ends after a binding", 14),
    ("TP; FP", {}, "syntax error: a ';' must follow a binding", 5),
    ("min(TP,)", {}, "syntax error: misplaced ','", 8),
    ("TP..5", {}, "syntax error: unexpected character '.'", 3),
    ("TP \u2212 FP", {}, "unexpected character '\u2212' (U+2212 MINUS SIGN): write '-'", 4),
    ("TP\u00d7FP/N", {}, "unexpected character '\u00d7' (U+00D7 MULTIPLICATION SIGN): write '*'", 3),
    ("TP/N\u00b2", {}, "unexpected character '\u00b2' (U+00B2 SUPERSCRIPT TWO): write '^2'", 5),
    ("(1+\u03b2^2)*TP/N", {}, "unexpected character '\u03b2' (U+03B2 GREEK SMALL LETTER BETA): write 'beta'", 4),
    ("\u221a(TPR*TNR)", {}, "unexpected character '\u221a' (U+221A SQUARE ROOT): write 'sqrt(...)'", 1),
    ("\u00bd*TPR + \u00bd*TNR", {}, "unexpected character '\u00bd' (U+00BD VULGAR FRACTION ONE HALF): write '1/2'", 1),
    ("\uff34\uff30/N", {}, "unexpected character '\uff34' (U+FF34 FULLWIDTH LATIN CAPITAL LETTER T): write 'T'", 1),
    ("TP/\u200bN", {}, "unexpected character '\\u200b' (U+200B ZERO WIDTH SPACE): delete it", 4),
    ("2*tp/(2*tp+FP+FN)", {}, "unknown name `tp`; did you mean `TP`?", 3),
    ("precison", {}, "unknown name `precison`; did you mean `precision`?", 1),
    ("0.5*f1 + 0.5*balanced_acuracy", {}, "did you mean `balanced_accuracy`?", 14),
    ("sqr(TPR*TNR)", {}, "unknown function `sqr`; did you mean `sqrt`?", 1),
    # functions of other languages: what to write instead (log10 is not log)
    ("ln(TP)/N", {}, "unknown function `ln`: the natural logarithm is log(x)", 1),
    ("TPR*log10(PPV)", {}, "unknown function `log10`: write log(x)/log(10)", 5),
    ("log2(PPV)", {}, "unknown function `log2`: write log(x)/log(2)", 1),
    ("pow(TPR, 2)", {}, "unknown function `pow`: write x^y (or x**y)", 1),
    ("sigmoid(TP - FP)", {}, "unknown function `sigmoid`: write 1/(1 + exp(-x))", 1),
    ("f1_score", {}, "unknown name `f1_score`; did you mean `f1` (scikit-learn's f1_score)?", 1),
    ("1 - balanced_accuracy_score", {}, "did you mean `balanced_accuracy` (scikit-learn's balanced_accuracy_score)?",
     5),
    ("fbeta_score", {"beta": 2}, "did you mean `fbeta` (scikit-learn's fbeta_score)?", 1),
    ("TPR*recall_score", {}, "did you mean `recall` (scikit-learn's recall_score)?", 5),
    # written without underscores, with capitals or a "score" suffix: the same name once those are set aside
    ("f1score", {}, "unknown name `f1score`; did you mean `f1` (scikit-learn's f1_score)?", 1),
    ("F1_Score", {}, "unknown name `F1_Score`; did you mean `f1` (scikit-learn's f1_score)?", 1),
    # torchmetrics' names with a task: the task is an argument of compile_metric
    ("BinaryF1Score", {}, "unknown name `BinaryF1Score`; did you mean `f1` (torchmetrics' BinaryF1Score)?", 1),
    ("1 - binary_specificity", {}, "did you mean `specificity` (torchmetrics' binary_specificity)?", 5),
    ("BinaryJaccardIndex", {}, "did you mean `jaccard` (torchmetrics' BinaryJaccardIndex)?", 1),
    ("MulticlassF1Score", {}, "unknown name `MulticlassF1Score` (torchmetrics'): name the metric and pass the "
     "task, compile_metric('f1', task='multiclass', num_classes=...) (on the command line: f1 --task multiclass "
     "--num-classes ...)", 1),
    ("multilabel_matthews_corrcoef", {}, "pass the task, compile_metric('mcc', task='multilabel', num_classes=...)",
     1),
    ("BalancedAccuracy", {}, "did you mean `balanced_accuracy` (scikit-learn's balanced_accuracy_score)?", 1),
    ("1 - MatthewsCorrCoef", {}, "did you mean `mcc` (scikit-learn's matthews_corrcoef)?", 5),
    ("geometric_mean", {}, "unknown name `geometric_mean`; did you mean `gmean`?", 1),
    ("roc_auc_score", {}, "`roc_auc_score` is not a confusion-matrix metric (ROC AUC ranks the scores over every "
                          "threshold)", 1),
    ("f1 - 0.1*log_loss", {}, "`log_loss` is not a confusion-matrix metric (log loss scores the probabilities", 10),
    ("AveragePrecision", {}, "`AveragePrecision` is not a confusion-matrix metric", 1),
    ("threat_score", {}, "unknown name `threat_score`; did you mean `jaccard`?", 1),
    # other names of catalog metrics and quantities, and scores written out or not of the counts
    ("1 - false_discovery_rate", {}, "unknown name `false_discovery_rate`; did you mean `FDR`?", 5),
    ("false_omission_rate", {}, "unknown name `false_omission_rate`; did you mean `FOR`?", 1),
    ("phi_coefficient", {}, "unknown name `phi_coefficient`; did you mean `mcc`?", 1),
    ("phi", {}, "parameter `phi` is not bound: pass phi=... to compile_metric (or --param phi=... on the command "
                "line); the phi coefficient is `mcc`", 1),
    ("sorensen", {}, "unknown name `sorensen`; did you mean `dice`?", 1),
    ("tanimoto", {}, "unknown name `tanimoto`; did you mean `jaccard`?", 1),
    ("ochiai", {}, "unknown name `ochiai`; did you mean `fowlkes_mallows`?", 1),
    ("j_statistic", {}, "unknown name `j_statistic`; did you mean `informedness`?", 1),
    ("ba", {}, "unknown name `ba`; did you mean `balanced_accuracy`?", 1),
    ("hamming_distance", {}, "unknown name `hamming_distance`: the Hamming loss (of one label) is the cost", 1),
    ("lift", {}, "unknown name `lift`: the lift is PPV/prevalence", 1),
    ("top_k_accuracy_score", {}, "`top_k_accuracy_score` is not a confusion-matrix metric (top-k accuracy ranks "
                                 "each sample's class scores)", 1),
    # scikit-learn's scorer names: an average is an argument of compile_metric, "neg_" a sign
    ("f1_macro", {}, "unknown name `f1_macro`: scikit-learn's scorer `f1_macro` is `f1` with average='macro': "
                     "compile_metric('f1', task='multiclass', num_classes=..., average='macro')", 1),
    # the average written first, as many code bases name it (had: "if it is a parameter, pass macro_f1=...")
    ("macro_f1", {}, "unknown name `macro_f1`: `macro_f1` is `f1` with average='macro': compile_metric('f1', "
                     "task='multiclass', num_classes=..., average='macro')", 1),
    ("1 - weighted_recall", {}, "unknown name `weighted_recall`: `weighted_recall` is `recall` with "
                                "average='weighted'", 5),
    ("micro_jaccard", {}, "`micro_jaccard` is `jaccard` with average='micro'", 1),
    # a function's name misspelled without its call is suggested as any name is
    ("TP/sqrtt", {}, "unknown name `sqrtt`; did you mean `sqrt`?", 4),
    ("TP + Max", {}, "unknown name `Max`; did you mean `max`?", 6),
    # ... in any case (had, for F1_Macro: "if it is a parameter, pass F1_Macro=...")
    ("F1_Macro", {}, "unknown name `F1_Macro`: scikit-learn's scorer `F1_Macro` is `f1` with average='macro': "
                     "compile_metric('f1', task='multiclass', num_classes=..., average='macro')", 1),
    ("f1_MACRO", {}, "scikit-learn's scorer `f1_MACRO` is `f1` with average='macro'", 1),
    ("WEIGHTED_Recall", {}, "`WEIGHTED_Recall` is `recall` with average='weighted': compile_metric('recall', ", 1),
    ("dice_coefficient", {}, "unknown name `dice_coefficient`; did you mean `dice`?", 1),
    ("dice_score", {}, "unknown name `dice_score`; did you mean `dice`?", 1),
    ("1 - precision_weighted", {}, "scikit-learn's scorer `precision_weighted` is `precision` with "
                                   "average='weighted'", 5),
    ("jaccard_samples", {}, "scikit-learn's scorer `jaccard_samples` is `jaccard` averaged over each sample's "
                            "labels, which metricc does not compute: average='macro', 'micro', 'weighted' or "
                            "'none'", 1),
    ("neg_log_loss", {}, "`neg_log_loss` is not a confusion-matrix metric (log loss scores the probabilities", 1),
    ("roc_auc_ovr_weighted", {}, "`roc_auc_ovr_weighted` is not a confusion-matrix metric (ROC AUC ranks", 1),
    ("neg_mcc", {}, "unknown name `neg_mcc`; did you mean `mcc`?", 1),  # a sign alone: no average to take off
    # F-beta scores by their usual names, and a named metric's parameters written as a call's keywords
    ("f2", {}, 'unknown name `f2`: F2 is fbeta with beta=2, compile_metric("fbeta", beta=2)', 1),
    ("0.5*F3 + 0.5*f1", {}, 'F3 is fbeta with beta=3, compile_metric("fbeta", beta=3)', 5),
    ("F_2", {}, 'F2 is fbeta with beta=2', 1),
    ("f0.5", {}, 'syntax error: F0.5 is fbeta with beta=0.5, compile_metric("fbeta", beta=0.5)', 1),
    ("fbeta", {"beta": -1}, "parameter `beta` of `fbeta` to be >= 0 (as scikit-learn's fbeta_score), but got -1", None),
    ("0.5*fbeta + 0.5*mcc", {"beta": -2}, "parameter `beta` of `fbeta` to be >= 0", None),  # (beta^2: F2, silently)
    ("tversky", {"alpha": -0.5}, "parameter `alpha` of `tversky` to be >= 0, but got -0.5", None),
    ("tversky", {"beta": -1}, "parameter `beta` of `tversky` to be >= 0, but got -1", None),  # (its weight of FN)
    ("abs(mcc - f1)^3 + sign(TP - FP)", {}, "unknown function `sign`: a step function, whose gradient is 0", 19),
    ("floor(TP/N)", {}, "unknown function `floor`: a step function", 1),
    ("f05", {}, 'unknown name `f05`: F0.5 is fbeta with beta=0.5, compile_metric("fbeta", beta=0.5)', 1),
    ("F_1", {}, "unknown name `F_1`; did you mean `f1` (scikit-learn's f1_score)?", 1),  # F1 is a name: no F-beta hint
    ("f0", {}, 'unknown name `f0`: F0 is fbeta with beta=0, compile_metric("fbeta", beta=0)', 1),
    ("F_025", {}, 'F0.25 is fbeta with beta=0.25', 1),
    ("fbeta(beta=2)", {}, 'syntax error: `fbeta` is not a function: set its parameter by keyword, '
                          'compile_metric("fbeta", beta=2)', 11),
    ("1 - tversky(alpha=0.3, beta=0.7)", {}, '`tversky` is not a function: set its parameters by keyword, '
                                             'compile_metric("tversky", alpha=0.3, beta=0.7)', 18),
    ("sqrt(x=TP)", {}, "syntax error: keyword arguments (x=...) are not part of the formula language", 7),
    # other names of catalog metrics and rates, and scores to write out
    ("fscore", {}, "unknown name `fscore`; did you mean `f1`?", 1),
    ("F_Measure", {}, "unknown name `F_Measure`; did you mean `f1`?", 1),
    ("1 - fallout", {}, "unknown name `fallout`; did you mean `FPR`?", 5),
    ("miss_rate", {}, "unknown name `miss_rate`; did you mean `FNR`?", 1),
    ("youdens_j", {}, "unknown name `youdens_j`; did you mean `informedness`?", 1),
    ("csi", {}, "unknown name `csi`; did you mean `jaccard`?", 1),
    ("error_rate", {}, 'unknown name `error_rate`: the error rate is the cost (FP + FN)/N, compile_metric("minimize: '
                       '(FP + FN)/N"), or 1 - accuracy inside a score', 1),
    ("f1 - 0.1*zero_one_loss", {}, "the zero-one loss is the cost (FP + FN)/N", 10),
    ("hamming", {}, "unknown name `hamming`: the Hamming loss (of one label) is the cost (FP + FN)/N", 1),
    ("bookmaker", {}, "unknown name `bookmaker`; did you mean `informedness`?", 1),
    ("zero_one", {}, "unknown name `zero_one`: the zero-one loss is the cost (FP + FN)/N", 1),
    ("1 - misclassification", {}, "unknown name `misclassification`: the error rate is the cost", 5),
    ("dor", {}, "unknown name `dor`: the diagnostic odds ratio is (TP*TN)/(FP*FN)", 1),
    # short and textbook names: acc suggested mcc; P (the actual positives in tables where N is the negatives)
    ("acc", {}, "unknown name `acc`; did you mean `accuracy`?", 1),
    ("bacc", {}, "unknown name `bacc`; did you mean `balanced_accuracy`?", 1),
    ("0.5*sens + 0.5*spec", {}, "unknown name `sens`; did you mean `sensitivity`?", 5),
    ("TPR*spec", {}, "unknown name `spec`; did you mean `specificity`?", 5),
    ("BM", {}, "unknown name `BM`; did you mean `informedness`?", 1),
    ("MK", {}, "unknown name `MK`; did you mean `markedness`?", 1),
    ("FM", {}, "unknown name `FM`; did you mean `fowlkes_mallows`?", 1),
    ("TP/total", {}, "unknown name `total`; did you mean `N`?", 4),
    ("sqrt(TP/P * TN/N)", {}, "unknown name `P`: the actual positives are `POS` (TP + FN), the actual negatives "
                              "`NEG` (FP + TN); `N` is the total, TP + FP + FN + TN", 9),
    # a metric's name written as words, apart or with hyphens: the name to write (the caret under its first word)
    ("geometric mean", {}, "syntax error: `geometric mean` is not a name (a name is one word); did you mean `gmean`?",
     1),
    ("F1 Score", {}, "`F1 Score` is not a name (a name is one word); did you mean `f1`?", 1),
    ("balanced accuracy score", {}, "did you mean `balanced_accuracy`?", 1),
    ("1 - false alarm rate", {}, "`false alarm rate` is not a name (a name is one word); did you mean `FPR`?", 5),
    ("TP/N + critical success index", {}, "`critical success index` is not a name (a name is one word); did you mean "
                                          "`jaccard`?", 8),
    ("true positive rate*TNR", {}, "did you mean `TPR`?", 1),
    ("diagnostic odds ratio", {}, "`diagnostic odds ratio` is not a name (a name is one word): the diagnostic odds "
                                  "ratio is (TP*TN)/(FP*FN)", 1),
    ("roc auc", {}, "`roc auc` is not a confusion-matrix metric (ROC AUC ranks the scores over every threshold)", 1),
    ("F2 score", {}, 'F2 is fbeta with beta=2, compile_metric("fbeta", beta=2)', 1),
    ("f1-score", {}, "unknown name `score`; `f1-score` is not a name (a name is one word, '-' subtracts); did you "
                     "mean `f1`?", 4),
    ("1 - false-positive-rate", {}, "unknown name `false`; `false-positive-rate` is not a name (a name is one word, "
                                    "'-' subtracts); did you mean `FPR`?", 5),
    ("TP FP", {}, "syntax error: missing operator (or ';') between two values", 4),  # words that spell no name
    ("2TP/(2TP+FP+FN)", {}, "syntax error: missing operator (or ';') between two values: write 2*TP for a product",
     2),
    ("TP/(TP + 0.5 FP)", {}, "between two values: write 0.5*FP for a product", 14),
    # MCC's denominator as papers print it, and a function without its parentheses
    ("(TP*TN - FP*FN)/sqrt((TP+FP)(TP+FN))", {}, "between two values: write )*( for a product", 29),
    ("sqrt TPR*TNR", {}, "between two values: write sqrt(TPR) to call sqrt", 6),
    ("1_000*FN + FP", {}, "syntax error: a number with '_' in it: write 1000", 1),
    ("FP + 1_000_000*FN", {}, "syntax error: a number with '_' in it: write 1000000", 6),
    ("0x10*TP", {}, "syntax error: a hexadecimal number: write 16", 1),
    ("0b11*FN + 0o7*FP", {}, "syntax error: a binary number: write 3", 1),
    ("0_7*TP", {}, "syntax error: a number with '_' in it: write 07", 1),
    ("kappa", {}, "parameter `kappa` is not bound: pass kappa=... to compile_metric (or --param kappa=... on the "
                  "command line); Cohen's kappa is `cohen_kappa`", 1),
    ("TP/N + xyzzy", {}, "unknown name `xyzzy`", 8),
    ("(1+beta^2)*TP/((1+beta^2)*TP + beta^2*FN + FP)", {}, "parameter `beta` is not bound: pass beta=...", 4),
    ("f1", {"beta": 2}, "parameter `beta` is not used by the formula", None),
    ("0.5*fbeta + 0.5*tversky", {}, "parameter `beta` has conflicting defaults", 5),
    ("1 + 2", {}, "depends on none of TP, FP, FN, TN", 1),
    ("alpha*beta", {"alpha": 1, "beta": 2}, "depends on none of TP, FP, FN, TN", 1),
    # the caret is under the operator that divides by zero
    ("TP/(FN - FN)", {}, "division by zero", 3),
    ("FP + TP / 0", {}, "division by zero", 9),
    ("FP + 0^-1*TP", {}, "division by zero", 7),
    ("sqrt(TP, FP)", {}, "sqrt() takes 1 argument, got 2", 1),
    ("max(TP)", {}, "max() takes two or more arguments, got 1", 1),
    ("TP = FP; TP", {}, "cannot bind `TP`: it is a built-in name", 1),
    ("a = TP; a = FP; a", {}, "`a` is bound twice", 9),
    ("beta = 2; fbeta", {}, "cannot bind `beta`: it is a parameter", 1),
    ("sqrt + TP", {}, "`sqrt` is a function: write sqrt(...)", 1),
    ("TP^5000", {}, "exponent 5000 is too large", 3),
    ("(TP/N)**1e300", {}, "exponent 1e300 is too large (at most 1000 in size)", 7),
    ("(TP/N)**-2001.5", {}, "exponent -2001.5 is too large", 7),
    ("1e999*TP", {}, "number 1e999 is out of range", 1),
    ("log(-1) + TP", {}, "this part of the formula is not a real number", 1),
    ("sqrt(-0.7 - sqrt(3)) * TP/N", {}, "this part of the formula is not a real number", 1),
    ("TP/N * log(1 - sqrt(2))", {}, "this part of the formula is not a real number", 8),
    ("TP/N + (0.5 - sqrt(3))^0.5", {}, "this part of the formula is not a real number", 8),
    # a parameter's value, given or a named metric's default, is checked where it is used as a constant is (SymPy
    # took min() of a complex number as an error of its own, and made sqrt(alpha - 1)^2 and abs(log(-alpha)) real)
    # a log or root of a quantity negative for every count, which SymPy then makes real again: sqrt(-FN)^2 = -FN,
    # exp(log(-FN)) = -FN, |sqrt(-FN)| = sqrt(FN) (its modulus) compiled silently as real formulas
    ("sqrt(-FN)^2", {}, "is not a real number for any counts", 1),
    ("exp(log(-FN))", {}, "is not a real number for any counts", 5),
    ("TP/N + abs(sqrt(-FN))", {}, "is not a real number for any counts", 12),
    ("((-FN)^(1/3))^3", {}, "is not a real number for any counts", 2),
    ("v = log(-TP*TNR); exp(2*v)", {}, "is not a real number for any counts", 5),
    ("sqrt(-alpha*FN)^2", {"alpha": 0.7}, "is not a real number for any counts", 1),
    ("a = -alpha - sqrt(3); TP*sqrt(a)/N", {"alpha": 0.7}, "this part of the formula is not a real number", 26),
    ("min(TP, log(-alpha))", {"alpha": 0.7}, "this part of the formula is not a real number", 9),
    ("max(TP, sqrt(-alpha))", {"alpha": 0.7}, "this part of the formula is not a real number", 9),
    ("sqrt(alpha - 1)^2 * TP", {"alpha": 0.5}, "this part of the formula is not a real number", 1),
    ("abs(log(-alpha))*TP", {"alpha": 0.7}, "this part of the formula is not a real number", 5),
    ("min(TP, 1/(alpha - 0.7))", {"alpha": 0.7}, "division by zero", 10),
    ("min(TP, log(alpha - beta))", {"alpha": 0.7, "beta": 0.7}, "this part of the formula is infinite", 9),
    ("fbeta * min(TP, sqrt(beta - 2))", {}, "is not real-valued with beta = 1: sqrt(beta - 2) is not a real number",
     None),
    ("fbeta + log((beta - 2)*FN)", {}, "is not real-valued with beta = 1: log(FN*(beta - 2)) is not a real number "
     "there", None),  # a log of counts that a default makes negative for every count
    ("min(TP, log(beta - 1)) + fbeta", {}, "divides by zero or is infinite with beta = 1: log(beta - 1)", None),
    ("TP*gamma", {"gamma": float("nan")}, "Expected parameter `gamma` to be a finite number, but got nan.", None),
    ("f1", {"TP": 1.0}, "`TP` is a name of the formula language, not a parameter", None),
    ("a = TP\nb = FP; a/b", {}, "missing operator (or ';') between two values", 1),
    ("\r(", {}, "syntax error", 3),
    ("TP +\u2028", {}, "syntax error: unexpected character '\\u2028'", 5),
    ("TP\t+ xx", {}, "unknown name `xx`", 6),
    ("TP TP", {}, "missing operator (or ';') between two values", 4),
    # lark's example matching fell back to the first example of the same parser state whatever the token: a
    # number after a name was an "unmatched ')'", a ',' after a number too; after a call or a power the answer
    # was only "unexpected 2"
    ("TP 2", {}, "missing operator (or ';') between two values", 4),
    ("TP.5", {}, "missing operator (or ';') between two values", 3),
    ("sqrt(TP) 2", {}, "missing operator (or ';') between two values", 10),
    ("min(TP, FP) TP", {}, "missing operator (or ';') between two values", 13),
    ("TP^2 (FP)", {}, "missing operator (or ';') between two values", 6),
    ("2 , TP", {}, "misplaced ','", 3),
    ("TP^2 , FP", {}, "misplaced ','", 6),
    ("-TP = 3; TP", {}, "'=' must follow a name at the start of a binding", 5),
    ("(TP) : FP", {}, "':' may only follow `minimize` or `maximize`", 6),
    ("2 : TP", {}, "':' may only follow `minimize` or `maximize`", 3),
    ("TP minimize: TP", {}, "`minimize:` may only start the formula", 4),
    ("a = TP; a ;;", {}, "a ';' must follow a binding (name = value)", 12),
    ("TP + ;", {}, "expected a value after the operator", 6),
    ("* TP", {}, "expected a value before '*'", 1),
    # a named metric's parameters written as a call's arguments
    ("fbeta(2)", {}, "`fbeta` is not a function: set its parameter by keyword, compile_metric(\"fbeta\", beta=2) "
                     "(--param beta=2 on the command line)", 1),
    ("1 - tversky(0.3, 0.7)", {}, "set its parameters by keyword, compile_metric(\"tversky\", alpha=0.3, beta=0.7) "
                                  "(--param alpha=0.3 --param beta=0.7 on the command line)", 5),
    ("fbeta(beta)", {}, "set its parameter by keyword, compile_metric(\"fbeta\", beta=1)", 1),
    ("f1(TP)", {}, "`f1` is not a function: write f1*(...) for a product", 1),
    ("prec = TP/PP", {}, "syntax error: the formula ends with a binding: write ';' and then the score", 13),
    ("( : TP)", {}, "expected a value after '('", 3),
    ("(/ TP)", {}, "expected a value before '/'", 2),
    ("# only a comment", {}, "the formula is empty", None),
    ("# one\n  # two\n", {}, "the formula is empty", None),
    (";TP", {}, "a ';' must follow a binding (name = value), not start the formula", 1),
    ("a = ; a", {}, "syntax error: a binding needs a value after '='", 5),
    ("2 = TP; TP", {}, "syntax error: '=' must follow a name at the start of a binding", 3),
    ("MINIMIZE: TP", {}, "':' may only follow `minimize` or `maximize` (lower case)", 9),
    ("TP: FP", {}, "':' may only follow `minimize` or `maximize`", 3),
    ("a = TP\na / N", {}, "is a ';' missing at the end of line 1?", 1),
    ("w*TPR + (1-w)*TNR", {}, "unknown name `w`; if it is a parameter, pass w=... to compile_metric", 1),
    ("TPR * e^(-FPR)", {}, "unknown name `e`; Euler's number is exp(1), and e^x is exp(x); if it is a parameter, "
     "pass e=...", 7),
    ("pi*TP/N", {}, "unknown name `pi`; π is 3.141592653589793; if it is a parameter, pass pi=...", 1),
    ("sqrt((1.234567)**1.000001)*TP/N", {}, "the constant is a fractional power whose exact exponent has a "
     "numerator over 10,000 (1.000001 is 1000001/1000000); write its value as a decimal number", 6),
    ("TP/N*sqrt(beta^1.000001)", {"beta": 1.234567}, "numerator over 10,000", 11),
    ("TP*exp(1.000001*log(1.234567))", {}, "numerator over 10,000", 4),  # SymPy makes it 1.234567^1.000001
    ("exp(800)*TP/N", {}, "the constant is out of range (beyond 1e300 or below 1e-300 in size)", 1),
    # SymPy factors what trial division leaves of a constant raised to up to 996 here: a primality test of a number
    # of 300,000 bits (hours); a parameter of 53 bits raised so, in the fuzz tests, hung too
    ("TP/(TP+FP) * (2*3*125*1" + "0" * 95 + "7)**0.997", {}, "the exact value of this power of a constant needs a "
     "number of more than 4096 bits factored; write its value as a decimal number", 14),
    ("TP/N*((1" + "0" * 95 + "7)**0.5)**0.997", {}, "needs a number of more than 4096 bits factored", 6),
    ("TP/N*abs(alpha)**0.997", {"alpha": -9.536251800802425e142}, "needs a number of more than 4096 bits factored",
     6),
    # ... and a number of small primes alone, which trial division takes apart, may hang too (over 100 s here; at
    # 0.999, 7 s and then a ValueError of an integer of over 4300 digits)
    ("TP*(2^3*3^2*7*32749^3)^0.9999", {}, "needs a number of more than 4096 bits factored", 4),
    ("TP*(2^3*3^2*7*32749^3)^0.999", {}, "needs a number of more than 4096 bits factored", 4),
    ("TP*(2^300*3^200*5^100)^(10000/10001)", {}, "needs a number of more than 4096 bits factored", 4),
    # ... and so may powers that are cheap one by one and that SymPy combines: n^(30/61) n^(33/67) is
    # n^(4023/4087) (it hung while parsing, and in a quotient while deriving), exp(r log(n)) is n^r (it hung)
    ("TP*(2^3*3^2*7*32749^3)^(30/61)*(2^3*3^2*7*32749^3)^(33/67)", {}, "needs a number of more than 4096 bits "
     "factored", 1),
    ("TP*n^(30/61)/(FP*n^(33/67) + TP)".replace("n", "(2^3*3^2*7*32749^3)"), {}, "needs a number of more than 4096 "
     "bits factored", 1),
    ("TP*exp(4000/4001*log(2^3*3^2*7*32749^3))", {}, "needs a number of more than 4096 bits factored", 4),
    ("TP/N - exp(-700)", {}, "the constant is out of range (beyond 1e300 or below 1e-300 in size)", 8),
    ("exp(exp(1e50))*TP/N", {}, "the constant is out of range (beyond 1e300 or below 1e-300 in size)", 5),
    ("exp(300)*exp(400)*TP/N", {}, "the constant is out of range (beyond 1e300 or below 1e-300 in size)", 1),
    ("TP/N + exp(exp(beta))", {"beta": 1e50}, "the constant is out of range (beyond 1e300 or below 1e-300 in size)",
     12),
    ("fbeta", {"beta": 1e200}, "has a constant that is out of range (beyond 1e300 or below 1e-300 in size) with "
     "beta = 1e+200: beta**2", None),
    ("tversky", {"alpha": 1e-320}, "out of range (beyond 1e300 or below 1e-300 in size) with alpha = 9.99989e-321",
     None),
    ("fbeta", {"bta": 2}, "parameter `bta` is not used by the formula 'fbeta'; did you mean `beta`?", None),
    # scikit-learn's arguments, passed to compile_metric as its metrics take them
    ("f1", {"pos_label": 0}, "parameter `pos_label` is not used by the formula 'f1'; `pos_label` is an argument of "
                             "scikit-learn's metrics: metricc scores label 1; to score label 0, pass 1 - target (and "
                             "-logits), or write the formula with TN for TP and FN for FP", None),
    ("precision", {"zero_division": 0}, "`zero_division` is an argument of scikit-learn's metrics: pass it to "
                                        "score(); the loss never divides by 0 (eps)", None),
    ("TP (FP + FN)", {}, "`TP` is not a function: write TP*(...) for a product", 1),
    ("TP + " * 2500 + "TP", {}, "the formula is 12502 characters long; at most 10000 are accepted", None),
    # a constant that SymPy does not reduce to 0 but that is 0 (log(6) - log(2) - log(3)) divides by zero as 0 does
    ("TP/(log(6)-log(2)-log(3))", {}, "division by zero", 3),
    ("TP*(log(6)-log(2)-log(3))^-1", {}, "division by zero", 26),
    # a function's name given as a parameter would have been its value (TP * sqrt = 2*TP); True is not a number
    ("TP * sqrt", {"sqrt": 2}, "`sqrt` is a name of the formula language, not a parameter", None),
    ("beta*TP", {"beta": True}, "Expected parameter `beta` to be a finite number, but got True.", None),
    ("beta*TP", {"beta": 1e301}, "parameter `beta` = 1e+301 is out of range (beyond 1e300 or below 1e-300", 1),
    ("f0.50", {}, "F0.5 is fbeta with beta=0.5, compile_metric(\"fbeta\", beta=0.5)", 1),
    ("TP*(-2)^(1/10^20)", {}, "this part of the formula is not a real number (a root or log of a negative", 4),
    ("TP +\n\n  ", {}, "expected a value after the operator", 5),  # the end of the text, not of its trailing lines
    ("TP*0.999^1000", {}, "the exact value of this constant needs more than 4096 bits; write it as a decimal", 4),
    ("*".join(["1." + "0" * 97 + "1"] * 13) + "*TP", {}, "the constant needs more than 4096 bits as an exact number",
     1),
    ("".join(f"a{k} = TP; " for k in range(101)) + "a0", {}, "the formula has 101 bindings; at most 100 are accepted",
     None),
]
