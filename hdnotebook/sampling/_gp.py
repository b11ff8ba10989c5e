"""Private: a small exact Gaussian process for :mod:`hdnotebook.sampling.bayesian`.

ARD Matern-5/2 kernel on the unit cube, a constant mean, Gaussian noise with an optional extra
per-point variance. The caller standardises the targets; the constant mean is not zero (the
average of the results) but its *generalised least-squares* estimate (ordinary kriging), ``1' K^-1 y
/ 1' K^-1 1``, where results that lie close together share their weight, both in the posterior and
in the likelihood of the hyperparameter fit (the mean profiled out). The average of the results is
dragged towards any basin a search has sampled many times: every place the model knew nothing about
was then predicted as good as a typical result *of that basin*, the expected improvement kept
sending trials to unexplored corners (on Hartmann-6, 11 of trials 25-50 of one seed went to places
worth ~0), and the lengthscales were fitted to explain that basin against a mean it set itself.
With the estimated mean, unexplored space is predicted at the level of the space seen so far.
Median regret over 20 seeds (``bench/samplers.py``), zero mean -> estimated mean in the posterior
only -> also in the fit: Hartmann-6 at 50 trials 5.3e-3 -> 1.8e-3 -> 7.6e-5; Styblinski-Tang-10 at
100 127 -> 76 -> 58; Levy-4 at 50 0.25 -> 0.30 -> 0.16; Ackley-5 at 20 15.9 -> 12.6 -> 13.1;
4 trials in flight, Hartmann-6 at 50 0.074 -> 0.090 -> 0.0030. The posterior variance treats the
estimated constant as known (simple kriging). The universal-kriging variance adds the constant's own
uncertainty, ``(1 - 1' K^-1 k)^2 / 1' K^-1 1``, which raises the variance away from the results. It
was tried and left out: over 40 seeds the sequential regret stayed level within noise, and 4 in
flight got worse at 50 trials on Hartmann-6 (median 0.0032 -> 0.0075) and Styblinski-Tang-10
(106 -> 130, worse on 30 of 40 seeds, paired p < 0.01).

Hyperparameters (one lengthscale per input dimension, signal variance, noise variance) are the MAP
estimate under weak priors, found with L-BFGS-B on the analytic gradient of the log marginal
likelihood. The priors have the shapes of Optuna's GPSampler: each lengthscale ``l`` costs ``0.1 *
(l**2 + l**-2)`` (flat between ~0.3 and ~3, then a steep wall on both sides), the signal variance
``Gamma(2, 1)`` and the noise variance ``Gamma(1.1, rate=30)``, with a floor of 1e-10 (plus a 1e-8
jitter): that noise prior barely penalises a tiny noise, so on a noiseless objective the model
interpolates the results and resolves the last digits near the optimum, and on a noisy one it learns
the noise. The ``LogNormal(0, 1)`` lengthscale prior used before let lengthscales fall to ~0.1 on a
handful of results: the model then saw every result as an isolated bump and the first model-guided
trials went exploring the corners (median regret at 20 trials over 8 seeds, before -> after: Levy-4
4.9 -> 1.9, Hartmann-6 1.54 -> 0.96; the old ``LogNormal(-5, 1.5)`` noise prior and 1e-6 floor had
blurred every difference below ~1e-3 standard deviations).

``log_h`` is the stable core of log expected improvement (Ament et al., 2023, "Unexpected
improvements to expected improvement"); the acquisition itself lives in :mod:`._acquisition`.

Pure numpy/scipy; no state outside the objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, lapack
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr, ndtr

_SQRT5 = math.sqrt(5.0)
_LOG_2PI = math.log(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2.0)
_JITTER = 1e-8
# most elements of a (candidates, data) temporary in Posterior.predict: many candidates are scored
# in blocks of 128 KiB temporaries. In one pass, 1280 candidates on 100 results make 1 MiB
# temporaries, which the allocator handed back to the system and faulted in again at every call
# (~0.9 of 2.3 ms); blocks of 8k to 32k elements all removed the page faults and cost the same.
_BLOCK_ELEMENTS = 16384

# bounds of the log hyperparameters
_LOG_LS_BOUNDS = (math.log(1e-2), math.log(1e2))
_LOG_SIGNAL_BOUNDS = (math.log(5e-2), math.log(20.0))
_LOG_NOISE_BOUNDS = (math.log(1e-10), math.log(1.0))
# projected-gradient tolerance of the hyperparameter fits (as Optuna: tighter ones cost ~50 % more
# likelihood evaluations with the tiny noise floor and changed no regret measurably)
_FIT_GTOL = 1e-2
# prior on the signal variance: Gamma(concentration, rate) (as Optuna)
_SIGNAL_PRIOR = (2.0, 1.0)
# weight w of the lengthscale prior: -log p(l) = w * (l^2 + l^-2) (as Optuna's, on 1 / l^2)
_LENGTHSCALE_PRIOR_WEIGHT = 0.1
# prior on the noise variance: Gamma(concentration, rate), evaluated at the variance (as Optuna)
_NOISE_PRIOR = (1.1, 30.0)


@dataclass(frozen=True)
class Hyper:
    """Fitted kernel hyperparameters."""

    lengthscales: np.ndarray
    signal: float
    noise: float


def _matern(r: np.ndarray, signal: float) -> np.ndarray:
    """The kernel at distances ``r`` (in lengthscales); ``r`` is overwritten (it is a temporary).

    ``signal * (1 + s + s**2 / 3) * exp(-s)`` with ``s = sqrt(5) r``, in place: the candidate
    matrices are large, and each temporary costs as much as an operation.
    """
    s = r
    s *= _SQRT5
    e = np.negative(s)
    np.exp(e, out=e)
    square = s * s
    square /= 3.0
    s += 1.0
    s += square
    s *= signal
    s *= e
    return s


def _scaled_sqdist(
    a: np.ndarray, b: np.ndarray, b_sq: np.ndarray | None = None, a_sq: np.ndarray | None = None
) -> np.ndarray:
    """Squared distances between the rows of ``a`` and ``b`` (``*_sq``: their squared norms, if known)."""
    r2 = np.add.outer(
        (a * a).sum(1) if a_sq is None else a_sq, (b * b).sum(1) if b_sq is None else b_sq
    )
    ab = a @ b.T
    ab *= -2.0
    r2 += ab
    return np.maximum(r2, 0.0, out=r2)


def _constant_mean(chol: np.ndarray, y: np.ndarray) -> float | np.ndarray:
    """The generalised least-squares constant ``1' K^-1 y / 1' K^-1 1`` from the lower Cholesky
    factor of ``K``: one per column of ``y`` (n,) or (n, s)."""
    spread = lapack.dpotrs(chol, np.ones(len(chol)), lower=1)[0]  # K^-1 1
    return (spread @ y) / spread.sum()


def _symmetric_inverse(chol: np.ndarray) -> np.ndarray | None:
    """The inverse of ``L L^T`` from its lower Cholesky factor ``L`` (upper triangle zero), or None.

    LAPACK writes only the lower triangle and leaves the (zero) upper one as it was, so the
    transpose fills it in and the doubled diagonal is halved back (exactly).
    """
    inv, info = lapack.dpotri(chol, lower=1)
    if info:
        return None
    inv = inv + inv.T
    inv.flat[:: len(inv) + 1] *= 0.5
    return inv



def _neg_log_posterior(
    theta: np.ndarray, x: np.ndarray, y: np.ndarray, extra: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus negative log prior, and its gradient.

    Every step is O(n^2) or a BLAS call: the lengthscale gradient
    ``0.5 * sum_ij M_ij (xs_ik - xs_jk)^2`` is expanded into two matrix products.
    """
    n, d = x.shape
    log_ls, log_s, log_n = theta[:d], theta[d], theta[d + 1]
    signal, noise = math.exp(log_s), math.exp(log_n)
    xs = x * np.exp(-log_ls)
    xx = xs * xs
    sq = xx.sum(1)
    r2 = _scaled_sqdist(xs, xs, sq, sq)
    diagonal = slice(None, None, n + 1)  # of the flattened matrices
    r2.flat[diagonal] = 0.0
    sr = np.sqrt(r2)
    sr *= _SQRT5
    e = np.exp(-sr)
    sr += 1.0  # 1 + sqrt(5) r
    c = signal * 5.0 / 3.0
    a = c * sr
    a *= e  # dK/dlog(l_k) = a * ((xi_k - xj_k) / l_k)^2
    kf = signal * sr
    kf *= e
    r2 *= c
    r2 *= e
    kf += r2
    k = kf.copy()
    k.flat[diagonal] += noise + extra + _JITTER
    chol, info = lapack.dpotrf(k, lower=1, clean=1)
    if info:
        return 1e10, np.zeros_like(theta)
    # the constant mean at its generalised least-squares estimate for these hyperparameters (the
    # likelihood's optimum in the mean: by the envelope theorem the gradient below stays exact)
    y = y - _constant_mean(chol, y)
    alpha = lapack.dpotrs(chol, y, lower=1)[0]
    kinv = _symmetric_inverse(chol)
    if kinv is None:
        return 1e10, np.zeros_like(theta)
    nll = 0.5 * float(y @ alpha) + float(np.log(chol.flat[diagonal]).sum()) + 0.5 * n * _LOG_2PI
    w = kinv
    w -= np.outer(alpha, alpha)  # dNLL/dtheta = 0.5 * tr(W dK/dtheta)
    m = w * a
    grad = np.empty_like(theta)
    grad[:d] = m.sum(1) @ xx - (xs * (m @ xs)).sum(0)
    kf *= w
    grad[d] = 0.5 * float(kf.sum())
    grad[d + 1] = 0.5 * noise * float(np.trace(w))
    # priors: lengthscales w * (l^2 + l^-2), signal Gamma(shape, rate)
    up, down = np.exp(2.0 * log_ls), np.exp(-2.0 * log_ls)
    nll += _LENGTHSCALE_PRIOR_WEIGHT * float((up + down).sum())
    grad[:d] += 2.0 * _LENGTHSCALE_PRIOR_WEIGHT * (up - down)
    shape, rate = _SIGNAL_PRIOR
    nll += -(shape - 1.0) * log_s + rate * signal
    grad[d] += -(shape - 1.0) + rate * signal
    shape, rate = _NOISE_PRIOR  # -log p(noise) = -(shape - 1) log(noise) + rate * noise
    nll += -(shape - 1.0) * log_n + rate * noise
    grad[d + 1] += -(shape - 1.0) + rate * noise
    return nll, grad


def fit_hyper(
    x: np.ndarray,
    y: np.ndarray,
    extra: np.ndarray,
    starts: list[np.ndarray] | None = None,
    maxiter: int = 60,
) -> Hyper:
    """MAP hyperparameters for data ``x`` (n, d) in the unit cube and standardised ``y`` (n,)."""
    n, d = x.shape
    bounds = [_LOG_LS_BOUNDS] * d + [_LOG_SIGNAL_BOUNDS, _LOG_NOISE_BOUNDS]
    if starts is None:
        starts = default_starts(d)
    best_f, best_theta = math.inf, starts[0]
    for theta0 in starts:
        res = minimize(
            _neg_log_posterior,
            theta0,
            args=(x, y, extra),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter, "gtol": _FIT_GTOL},
        )
        if np.isfinite(res.fun) and res.fun < best_f:
            best_f, best_theta = float(res.fun), res.x
    return Hyper(np.exp(best_theta[:d]), math.exp(best_theta[d]), math.exp(best_theta[d + 1]))


def theta_of(hyper: Hyper) -> np.ndarray:
    """The log hyperparameter vector of ``hyper`` (a start for :func:`fit_hyper`)."""
    return np.concatenate([np.log(hyper.lengthscales), [math.log(hyper.signal), math.log(hyper.noise)]])


def default_starts(d: int) -> list[np.ndarray]:
    """Two starting points: short lengthscales (a wiggly model) and long ones (a smooth model)."""
    return [
        np.concatenate([np.full(d, math.log(0.2 * math.sqrt(d))), [0.0, math.log(1e-3)]]),
        np.concatenate([np.full(d, math.log(1.0 * math.sqrt(d))), [0.0, math.log(1e-2)]]),
    ]


class Posterior:
    """The GP conditioned on data with fixed hyperparameters.

    ``y`` is one target vector (n,) or several (n, s) sharing the inputs (the fantasies of
    :mod:`._acquisition`): the means then have one column per target, the standard deviation is
    shared (it does not depend on the targets). ``extra`` (n,) is added to the noise variance of
    each point; ``-hyper.noise`` makes a point exact (a believed latent value, not an observation).
    """

    def __init__(self, hyper: Hyper, x: np.ndarray, y: np.ndarray, extra: np.ndarray) -> None:
        self.hyper = hyper
        self.x = x
        self.xs = x / hyper.lengthscales
        self._xs_sq = (self.xs * self.xs).sum(1)
        self._xs_t = np.ascontiguousarray(self.xs.T)  # (d, n): the differences of predict_grad
        n = len(x)
        k = _matern(np.sqrt(_scaled_sqdist(self.xs, self.xs, self._xs_sq)), hyper.signal)
        k[np.diag_indices(n)] += hyper.noise + extra + _JITTER
        jitter = _JITTER
        while True:  # the noise may be tiny: add jitter if the matrix is not numerically PD
            chol, info = lapack.dpotrf(k, lower=1, clean=1)
            if not info or jitter > 1e-2 * hyper.signal:
                break
            k[np.diag_indices(n)] += 9.0 * jitter
            jitter *= 10.0
        if info:
            raise np.linalg.LinAlgError("kernel matrix is not positive definite")
        self.chol = chol
        #: the constant mean: its generalised least-squares estimate (one per target column)
        self.constant = _constant_mean(chol, y)
        self.alpha = cho_solve((chol, True), y - self.constant, check_finite=False)
        self.chol_inv = lapack.dtrtri(self.chol, lower=1)[0]

    def cross(self, xc: np.ndarray) -> np.ndarray:
        """The kernel between ``xc`` (m, d) and the data (m, n)."""
        return self._cross_scaled(xc / self.hyper.lengthscales)

    def _cross_scaled(self, xs: np.ndarray) -> np.ndarray:
        """:meth:`cross` for inputs already divided by the lengthscales."""
        r2 = _scaled_sqdist(xs, self.xs, self._xs_sq)
        return _matern(np.sqrt(r2, out=r2), self.hyper.signal)

    def mean(self, xc: np.ndarray) -> np.ndarray:
        """Latent mean (m,) or (m, s) at ``xc`` (m, d), without the variances."""
        return self.cross(xc) @ self.alpha + self.constant

    def predict(self, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean (m,) or (m, s) and standard deviation (m,) at ``xc`` (m, d)."""
        rows = max(1, _BLOCK_ELEMENTS // len(self.x))
        if len(xc) > rows:  # in blocks: see _BLOCK_ELEMENTS
            blocks = [self.predict(xc[i : i + rows]) for i in range(0, len(xc), rows)]
            return np.concatenate([mu for mu, _ in blocks]), np.concatenate([sd for _, sd in blocks])
        ks = self.cross(xc)
        mu = ks @ self.alpha + self.constant
        v = ks @ self.chol_inv.T
        var = np.maximum(self.hyper.signal - (v * v).sum(1), 1e-12)
        return mu, np.sqrt(var)

    def predict_cov(self, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and joint covariance (m, m) at ``xc`` (m, d)."""
        xs = xc / self.hyper.lengthscales
        ks = self._cross_scaled(xs)
        v = ks @ self.chol_inv.T
        prior = _matern(np.sqrt(_scaled_sqdist(xs, xs)), self.hyper.signal)
        return ks @ self.alpha + self.constant, prior - v @ v.T

    def predict_grad(
        self, xc: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, sd and their gradients with respect to ``xc`` (m, d).

        With one target: mean (m,), gradient (m, d); with s targets: mean (m, s), gradient (m, s, d).

        The kernel's gradient is ``-c_mn (xs_m - xs_n) / l`` (``xs``: inputs in lengthscales), so
        the gradients are one product of the differences (m, d, n) with weights (m, n, s + 1). The
        differences are formed directly (a small array: m is the number of search starts), not as
        ``xs_m * sum_n w_mn - (w @ xs)_m``, which cancels near a result, where the searches polish.
        The variance is ``signal - |L^-1 k|^2`` as in :meth:`predict`: through an explicit ``K^-1``
        instead (``k . K^-1 k``, one product fewer) the final regret on Branin was higher on 10 of
        10 seeds at 100 trials (median 1.6e-6 -> 1.6e-5).
        """
        ls = self.hyper.lengthscales
        signal = self.hyper.signal
        diff = (xc / ls)[:, :, None] - self._xs_t  # (m, d, n), in lengthscales
        r2 = np.einsum("mdn,mdn->mn", diff, diff)
        sr = np.sqrt(r2)
        sr *= _SQRT5
        e = np.exp(-sr)
        sr += 1.0  # 1 + sqrt(5) r
        c = (signal * 5.0 / 3.0) * sr
        c *= e  # -(dk/dr) / r
        ks = signal * sr
        ks += (signal * 5.0 / 3.0) * r2
        ks *= e
        mu = ks @ self.alpha + self.constant
        v = ks @ self.chol_inv.T
        kinv_k = v @ self.chol_inv  # (m, n)
        var = np.maximum(signal - (v * v).sum(1), 1e-12)
        sd = np.sqrt(var)
        # one product for both: the mean's -sum_n c_mn alpha_ns (xs_m - xs_n) / l (s columns) and
        # the variance's 2 sum_n c_mn (K^-1 k)_mn (xs_m - xs_n) / l (the last; sd' = var' / (2 sd))
        alpha = self.alpha.reshape(len(self.x), -1)  # (n, s)
        weights = np.concatenate([c[:, :, None] * alpha, (c * kinv_k)[:, :, None]], axis=2)
        sums = diff @ weights  # (m, d, s + 1)
        dmu = sums[:, :, :-1].transpose(0, 2, 1) / -ls  # (m, s, d)
        dsd = sums[:, :, -1] / (ls * sd[:, None])
        if self.alpha.ndim == 1:
            dmu = dmu[:, 0, :]
        return mu, sd, dmu, dsd


def log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(z * Phi(z) + phi(z)) and its derivative Phi(z) / h(z), stable for z << 0."""
    z = np.asarray(z, dtype=float)
    hi = z > -1.0
    if hi.all():  # one branch for all: no masked copies (the searches score a few points at a time)
        return _log_h_above(z)
    if not hi.any():
        return _log_h_below(z)
    out = np.empty_like(z)
    dout = np.empty_like(z)
    out[hi], dout[hi] = _log_h_above(z[hi])
    out[~hi], dout[~hi] = _log_h_below(z[~hi])
    return out, dout


def _log_h_above(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_h` for z > -1: directly."""
    out = np.log(z * ndtr(z) + np.exp(-0.5 * z * z - 0.5 * _LOG_2PI))
    return out, np.exp(log_ndtr(z) - out)


def _log_h_below(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_h` for z <= -1: through the scaled complementary error function."""
    z = np.maximum(z, -1e6)
    mills = _SQRT_HALF_PI * erfcx(-z / math.sqrt(2.0))  # Phi(z) / phi(z)
    inner = np.maximum(1.0 + z * mills, 1e-300)
    return -0.5 * z * z - 0.5 * _LOG_2PI + np.log(inner), mills / inner


def log_ei(mu: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """log expected improvement below ``best``."""
    z = (best - mu) / sd
    return np.log(sd) + log_h(z)[0]
