// Float64 dense linear algebra straight from docs/math.md, independent of the code under test:
// explicit matrices, a real (partially pivoted) inverse, no tfjs.

/** Row-major dense matrix. */
export interface Mat { rows: number; cols: number; data: Float64Array }

export function mat(rows: number, cols: number, data?: ArrayLike<number>): Mat {
  const m = { rows, cols, data: new Float64Array(rows * cols) };
  if (data) m.data.set(Array.from(data));
  return m;
}

export function eye(n: number): Mat {
  const m = mat(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

export function get(m: Mat, i: number, j: number): number { return m.data[i * m.cols + j]; }
export function set(m: Mat, i: number, j: number, v: number): void { m.data[i * m.cols + j] = v; }

export function matmul(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new Error(`matmul shape mismatch ${a.rows}x${a.cols} · ${b.rows}x${b.cols}`);
  const c = mat(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k];
      if (aik === 0) continue;
      for (let j = 0; j < b.cols; j++) c.data[i * c.cols + j] += aik * b.data[k * b.cols + j];
    }
  }
  return c;
}

export function add(a: Mat, b: Mat, scaleB = 1): Mat {
  const c = mat(a.rows, a.cols);
  for (let i = 0; i < c.data.length; i++) c.data[i] = a.data[i] + scaleB * b.data[i];
  return c;
}

export function transpose(a: Mat): Mat {
  const t = mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j];
  return t;
}

/** Inverse by Gauss–Jordan elimination with partial pivoting. */
export function inverse(a: Mat): Mat {
  const n = a.rows;
  const m = mat(n, 2 * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) m.data[i * 2 * n + j] = a.data[i * n + j];
    m.data[i * 2 * n + n + i] = 1;
  }
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(get(m, i, c)) > Math.abs(get(m, p, c))) p = i;
    if (get(m, p, c) === 0) throw new Error('singular matrix');
    if (p !== c) {
      for (let j = 0; j < 2 * n; j++) {
        const t = get(m, c, j); set(m, c, j, get(m, p, j)); set(m, p, j, t);
      }
    }
    const piv = get(m, c, c);
    for (let j = 0; j < 2 * n; j++) set(m, c, j, get(m, c, j) / piv);
    for (let i = 0; i < n; i++) {
      if (i === c) continue;
      const f = get(m, i, c);
      if (f === 0) continue;
      for (let j = 0; j < 2 * n; j++) set(m, i, j, get(m, i, j) - f * get(m, c, j));
    }
  }
  const inv = mat(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) inv.data[i * n + j] = get(m, i, n + j);
  return inv;
}

/** docs/math.md §2: U[i,j] = v[k] for i < j in row-major order of the strict upper triangle; Q = U − Uᵀ. */
export function skew(v: ArrayLike<number>, b: number): Mat {
  const q = mat(b, b);
  let k = 0;
  for (let i = 0; i < b; i++) {
    for (let j = i + 1; j < b; j++) {
      set(q, i, j, v[k]);
      set(q, j, i, -v[k]);
      k++;
    }
  }
  if (k !== v.length) throw new Error(`packed length ${v.length} != ${k}`);
  return q;
}

/** docs/math.md §3 exact: R = (I + Q)(I − Q)⁻¹. */
export function cayley(q: Mat): Mat {
  const i = eye(q.rows);
  return matmul(add(i, q), inverse(add(i, q, -1)));
}

/** docs/math.md §3 Neumann with N terms: R ≈ (I + Q)(I + Q + … + Q^(N−2)), powers summed explicitly. */
export function cayleyNeumann(q: Mat, terms: number): Mat {
  const i = eye(q.rows);
  let sum = eye(q.rows);
  let power = eye(q.rows);
  for (let t = 1; t <= terms - 2; t++) {
    power = matmul(power, q);
    sum = add(sum, power);
  }
  return matmul(add(i, q), sum);
}

/** Dense block-diagonal matrix from square blocks. */
export function blockDiag(blocks: Mat[]): Mat {
  const n = blocks.reduce((s, b) => s + b.rows, 0);
  const m = mat(n, n);
  let o = 0;
  for (const blk of blocks) {
    for (let i = 0; i < blk.rows; i++) for (let j = 0; j < blk.cols; j++) set(m, o + i, o + j, get(blk, i, j));
    o += blk.rows;
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |got − want| relative to max |want|: the measure of docs/math.md §9. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  return maxAbsDiff(got, want) / Math.max(1e-12, maxAbs(want));
}

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` normal samples (Box–Muller) scaled by `std`, rounded to float32 so both sides see equal inputs. */
export function normals(random: () => number, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(random(), 1e-12);
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return out;
}
