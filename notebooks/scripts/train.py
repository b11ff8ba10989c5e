"""Train a linear classifier on the digits data with mini-batch SGD, for HyperDrive to tune.

Run by hand::

    python train.py --data-folder ../.hdnotebook/data --learning_rate 0.05 \
        --keep_probability 0.9 --batch_size 64

Under HyperDrive every trial runs this script as its own process with the fixed arguments first
(``--data-folder ...``) and then the sampled hyperparameters as ``--name value``. The script logs
the validation accuracy after each epoch with ``run.log("accuracy", ...)``: that is the primary
metric the experiment maximises, and each log is one interval for the early-termination policy.
"""

import argparse
import os

import numpy as np
from sklearn.linear_model import SGDClassifier

from hdnotebook import Run

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data-folder", required=True, help="folder holding digits.npz")
parser.add_argument("--learning_rate", type=float, default=0.05, help="SGD step size (eta0)")
parser.add_argument("--keep_probability", type=float, default=1.0,
                    help="share of input pixels kept in each mini-batch (input dropout)")
parser.add_argument("--batch_size", type=int, default=64, help="samples per SGD update")
parser.add_argument("--epochs", type=int, default=5, help="passes over the training data")
args = parser.parse_args()

data = np.load(os.path.join(args.data_folder, "digits.npz"))
X_train, y_train, X_val, y_val = data["X_train"], data["y_train"], data["X_val"], data["y_val"]
classes = np.unique(y_train)

run = Run.get_context()
rng = np.random.default_rng(0)
model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=args.learning_rate,
                      alpha=1e-4, random_state=0)
for epoch in range(args.epochs):
    order = rng.permutation(len(X_train))
    for start in range(0, len(order), args.batch_size):
        batch = order[start:start + args.batch_size]
        X = X_train[batch]
        if args.keep_probability < 1:
            X = X * (rng.random(X.shape) < args.keep_probability) / args.keep_probability
        model.partial_fit(X, y_train[batch], classes=classes)
    run.log("accuracy", float(model.score(X_val, y_val)))
