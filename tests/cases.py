"""Parameter grids shared by the gradient and parity tests: every hidden activation, and
every loss with each output activation it can train."""
HIDDEN = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"]
LOSS_CASES = [
    ("binary_crossentropy", "sigmoid"),
    ("mean_squared_error", "linear"),
    ("mean_squared_error", "relu"),
    ("mean_squared_error", "leaky_relu"),
    ("mean_squared_error", "sigmoid"),
    ("mean_squared_error", "tanh"),
    ("mean_squared_error", "softmax"),
    ("categorical_crossentropy", "softmax"),
    ("sparse_categorical_crossentropy", "softmax"),
]
