"""Claims about the paper: Async-MSGD on streaming PCA (eq. 2.1), its limits (3.2), (3.3), (A.2),
the phase times, the delay threshold and the experiments of Figures 1 and 2."""
