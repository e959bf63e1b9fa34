"""Claims about other papers' approximations: SMEs of order 1 and 2 (Li, Tai, E), SVAG (Malladi et
al.), exit times of a double well, stationary covariances of SGD and heavy-ball."""
