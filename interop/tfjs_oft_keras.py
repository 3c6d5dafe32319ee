"""tf_keras counterparts of tfjs-oft's OrthogonalDense and ButterflyDense (docs/math.md §2-§5).

They read the configs and weights tfjs-oft saves (snake_case keys; weights `kernel`, `bias`,
`oft_r`, `boft_r`, `boft_s`), so an UNMERGED tfjs-oft model (adapters still trainable) can be
loaded by tensorflowjs' converter and saved as a Keras SavedModel:

    python interop/convert_with_adapters.py model.json out_saved_model

Forward, as in tfjs-oft: y = act(((x · R) · K) ⊙ s + c), R orthogonal (d × d):
  * OrthogonalDense: R = blockdiag(R_1 … R_r), R_j = Cayley(Q_j) (exact, or Cayley-Neumann).
  * ButterflyDense: R = M_{m-1} ⋯ M_0, M_i[x, y] = BD_i[perm_i[x], perm_i[y]].
Cayley exact: R = (I + Q)(I - Q)^-1; Neumann with N terms: (I + Q)(I + Q + … + Q^(N-2)).
Q = U - Uᵀ, U the strict upper triangle filled row-major from the packed vector.

Limits: dropout (module dropout, BOFT dropout) is not implemented (inference only matters
for export; a config with dropout > 0 still loads and runs without it in training); weight
regularizers saved by tfjs-oft are ignored. COFT is applied as a Keras constraint on `oft_r`.
"""
import numpy as np
import tensorflow as tf
import tf_keras


def packed_size(b):
    return b * (b - 1) // 2


def nearest_divisor(d, target):
    """The divisor of d nearest to target (ties to the smaller; target >= d gives d)."""
    if target >= d:
        return d
    best = 1
    for k in range(1, d + 1):
        if d % k == 0 and abs(k - target) < abs(best - target):
            best = k
    return best


def skew_from_packed(v, b):
    """v: [k, b(b-1)/2] -> Q: [k, b, b] with Q = U - Uᵀ (docs/math.md §2)."""
    upper = np.zeros((b * b,), dtype=np.int64)  # index into [0, v...]
    lower = np.zeros((b * b,), dtype=np.int64)
    k = 0
    for i in range(b):
        for j in range(i + 1, b):
            k += 1
            upper[i * b + j] = k
            lower[j * b + i] = k
    padded = tf.pad(v, [[0, 0], [1, 0]])
    q = tf.gather(padded, upper, axis=1) - tf.gather(padded, lower, axis=1)
    return tf.reshape(q, [-1, b, b])


def cayley(q, use_neumann, terms):
    """q: [k, b, b] skew -> rotations [k, b, b] (docs/math.md §3)."""
    b = q.shape[-1]
    eye = tf.eye(b, batch_shape=[tf.shape(q)[0]], dtype=q.dtype)
    if not use_neumann:
        # (I - Q)^-1 (I + Q), equal to (I + Q)(I - Q)^-1 since the factors commute.
        return tf.linalg.solve(eye - q, eye + q)
    series = eye
    power = eye
    for _ in range(terms - 2):
        power = tf.matmul(power, q)
        series = series + power
    return tf.matmul(eye + q, series)


def block_diagonal(blocks, count):
    """blocks: [k, b, b] with k == count or k == 1 (shared) -> dense [count·b, count·b]."""
    ops = [tf.linalg.LinearOperatorFullMatrix(blocks[0 if blocks.shape[0] == 1 else j]) for j in range(count)]
    return tf.linalg.LinearOperatorBlockDiag(ops).to_dense()


def butterfly_permutations(d, b, m):
    """perm_i for i = 0 … m-1 (docs/math.md §5)."""
    perms = [np.arange(d)]
    for i in range(1, m):
        seg = b * 2 ** i
        chunk = b // 2
        n_chunks = 2 ** (i + 1)
        order = list(range(0, n_chunks, 2)) + list(range(1, n_chunks, 2))
        perm = []
        for start in range(0, d, seg):
            for c in order:
                perm.extend(range(start + c * chunk, start + (c + 1) * chunk))
        perms.append(np.asarray(perm))
    return perms


class _CoftConstraint(tf_keras.constraints.Constraint):
    """Projects every packed block onto ‖Q_j‖_F ≤ radius (‖Q_j‖_F = √2 ‖v_j‖)."""

    def __init__(self, radius):
        self.radius = radius

    def __call__(self, w):
        norm = tf.norm(w, axis=1, keepdims=True) * np.sqrt(2.0)
        return w * tf.minimum(1.0, self.radius / tf.maximum(norm, 1e-30))

    def get_config(self):
        return {"radius": self.radius}


class _AdapterDense(tf_keras.layers.Layer):
    """Shared part: frozen kernel, optional bias, activation; subclasses give R and s."""

    _IGNORED = ("kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
                "activity_regularizer", "kernel_constraint", "bias_constraint")

    def __init__(self, units, activation=None, use_bias=True, bias_trainable=False, **kwargs):
        for key in self._IGNORED:
            kwargs.pop(key, None)  # the weights come from the file; initializers etc. are not needed
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = tf_keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_trainable = bool(bias_trainable)

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.build_adapter(d)
        self.kernel = self.add_weight(name="kernel", shape=[d, self.units], initializer="zeros", trainable=False)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=[self.units], initializer="zeros",
                                        trainable=self.bias_trainable)
        super().build(input_shape)

    def output_scale(self):
        return None

    def merged_kernel(self):
        """K' = R · K · diag(s), the kernel of the equivalent plain Dense."""
        k = tf.matmul(self.rotation(), self.kernel)
        s = self.output_scale()
        return k if s is None else k * s

    def call(self, inputs):
        x = tf.convert_to_tensor(inputs)
        y = tf.tensordot(tf.tensordot(x, self.rotation(), axes=1), self.kernel, axes=1)
        s = self.output_scale()
        if s is not None:
            y = y * s
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.units])

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "activation": tf_keras.activations.serialize(self.activation),
                       "use_bias": self.use_bias, "bias_trainable": self.bias_trainable})
        return config


class OrthogonalDense(_AdapterDense):
    """OFT (docs/math.md §4): weights `oft_r` [r or 1, b(b-1)/2] (trainable), `kernel` (frozen), `bias`."""

    def __init__(self, units, oft_block_size=32, r=0, use_cayley_neumann=True, num_cayley_neumann_terms=5,
                 coft=False, eps=6e-5, block_share=False, module_dropout=0.0, init_weights=True,
                 oft_regularizer=None, **kwargs):
        super().__init__(units, **kwargs)
        self.oft_block_size = int(oft_block_size or 0)
        self.r = int(r or 0)
        if (self.r == 0) == (self.oft_block_size == 0):
            raise ValueError(f"OrthogonalDense '{self.name}': set exactly one of r and oft_block_size, "
                             f"got r={self.r}, oft_block_size={self.oft_block_size}")
        self.use_cayley_neumann = bool(use_cayley_neumann)
        self.num_cayley_neumann_terms = int(num_cayley_neumann_terms)
        self.coft = bool(coft)
        self.eps = float(eps)
        self.block_share = bool(block_share)
        self.module_dropout = float(module_dropout)
        self.init_weights = bool(init_weights)

    def build_adapter(self, d):
        if self.r > 0:
            self.r = nearest_divisor(d, self.r)
            self.num_blocks, self.block_size = self.r, d // self.r
        else:
            self.oft_block_size = nearest_divisor(d, self.oft_block_size)
            self.block_size, self.num_blocks = self.oft_block_size, d // self.oft_block_size
        stored = 1 if self.block_share else self.num_blocks
        constraint = _CoftConstraint(self.eps / np.sqrt(stored)) if self.coft else None
        self.oft_r = self.add_weight(name="oft_r", shape=[stored, packed_size(self.block_size)],
                                     initializer="zeros", trainable=True, constraint=constraint)

    def rotation(self):
        q = skew_from_packed(self.oft_r, self.block_size)
        blocks = cayley(q, self.use_cayley_neumann, self.num_cayley_neumann_terms)
        return block_diagonal(blocks, self.num_blocks)

    def get_config(self):
        config = super().get_config()
        config.update({"oft_block_size": self.oft_block_size, "r": self.r,
                       "use_cayley_neumann": self.use_cayley_neumann,
                       "num_cayley_neumann_terms": self.num_cayley_neumann_terms, "coft": self.coft,
                       "eps": self.eps, "block_share": self.block_share, "module_dropout": self.module_dropout,
                       "init_weights": self.init_weights})
        return config


class ButterflyDense(_AdapterDense):
    """BOFT (docs/math.md §5): weights `boft_r` [m, N, b(b-1)/2], `boft_s` [units] (trainable), `kernel`, `bias`."""

    def __init__(self, units, boft_block_size=0, boft_block_num=0, boft_n_butterfly_factor=1, boft_dropout=0.0,
                 use_cayley_neumann=False, num_cayley_neumann_terms=5, init_weights=True, boft_regularizer=None,
                 **kwargs):
        super().__init__(units, **kwargs)
        self.boft_block_size = int(boft_block_size or 0)
        self.boft_block_num = int(boft_block_num or 0)
        if (self.boft_block_size == 0) == (self.boft_block_num == 0):
            raise ValueError(f"ButterflyDense '{self.name}': set exactly one of boft_block_size and boft_block_num, "
                             f"got {self.boft_block_size} and {self.boft_block_num}")
        self.boft_n_butterfly_factor = int(boft_n_butterfly_factor)
        self.boft_dropout = float(boft_dropout)
        self.use_cayley_neumann = bool(use_cayley_neumann)
        self.num_cayley_neumann_terms = int(num_cayley_neumann_terms)
        self.init_weights = bool(init_weights)

    def build_adapter(self, d):
        if self.boft_block_size > 0:
            b = self.boft_block_size
            n = d // b
        else:
            n = self.boft_block_num
            b = d // n
        if b * n != d:
            raise ValueError(f"ButterflyDense '{self.name}': block size {b} × block number {n} != input dim {d}")
        self.block_size, self.num_blocks = b, n
        m = self.boft_n_butterfly_factor
        self.perms = butterfly_permutations(d, b, m)
        self.boft_r = self.add_weight(name="boft_r", shape=[m, n, packed_size(b)], initializer="zeros", trainable=True)
        self.boft_s = self.add_weight(name="boft_s", shape=[self.units], initializer="ones", trainable=True)

    def rotation(self):
        m, n, b = self.boft_n_butterfly_factor, self.num_blocks, self.block_size
        q = skew_from_packed(tf.reshape(self.boft_r, [m * n, -1]), b)
        blocks = tf.reshape(cayley(q, self.use_cayley_neumann, self.num_cayley_neumann_terms), [m, n, b, b])
        total = None
        for i in range(m):
            bd = block_diagonal(blocks[i], n)
            perm = self.perms[i]
            factor = tf.gather(tf.gather(bd, perm, axis=0), perm, axis=1)  # M_i[x, y] = BD_i[perm[x], perm[y]]
            total = factor if total is None else tf.matmul(factor, total)  # B = M_{m-1} ⋯ M_0
        return total

    def output_scale(self):
        return self.boft_s

    def get_config(self):
        config = super().get_config()
        config.update({"boft_block_size": self.boft_block_size, "boft_block_num": self.boft_block_num,
                       "boft_n_butterfly_factor": self.boft_n_butterfly_factor, "boft_dropout": self.boft_dropout,
                       "use_cayley_neumann": self.use_cayley_neumann,
                       "num_cayley_neumann_terms": self.num_cayley_neumann_terms, "init_weights": self.init_weights})
        return config


CUSTOM_OBJECTS = {"OrthogonalDense": OrthogonalDense, "ButterflyDense": ButterflyDense}
