/* losskit native kernels: one memory sweep per loss, loss and gradient together.
 *
 * Plain C99 + OpenMP, no torch headers, so it compiles in about a second and is
 * called through ctypes (see _native.py). Only contiguous float32 / float64 data
 * comes here; everything else takes the plain torch path.
 *
 * float32 uses the vectorisable exp/log below (Cephes-style polynomials, ~1-2 ulp)
 * so that the loops compile to AVX2; float64 uses libm for full accuracy.
 * Sums are accumulated per block in the data type, then across blocks in double.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 4096

static inline float as_float(int32_t i) { union { int32_t i; float f; } u; u.i = i; return u.f; }
static inline int32_t as_int(float f) { union { int32_t i; float f; } u; u.f = f; return u.i; }

/* exp(x) = (1 + p) 2^n for float32, with p = exp(r) - 1 of the reduced argument
 * r = x - n log 2, |r| <= log(2) / 2; saturates below -87.3 (~1e-38, not 0) and above 88.7. */
static inline float exp_parts_f(float x, float* scale) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.7f ? 88.7f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    *scale = as_float(((int32_t)n + 127) << 23);
    return p * r * r + r;
}

static inline float exp_f(float x) {
    float scale;
    float p = exp_parts_f(x, &scale);
    return (p + 1.0f) * scale;
}

/* exp(x) - 1 for float32, accurate near 0: for |x| <= log(2) / 2 (n = 0, scale 1) it is
 * the polynomial itself, with no 1 added and taken away. */
static inline float expm1_f(float x) {
    float scale;
    float p = exp_parts_f(x, &scale);
    return scale == 1.0f ? p : (p + 1.0f) * scale - 1.0f;
}

/* log(x) for finite x > 0 (float32). */
static inline float log_f(float x) {
    int32_t ix = as_int(x);
    int32_t e = ((ix >> 23) & 0xff) - 127;
    float m = as_float((ix & 0x007fffff) | 0x3f800000);
    int big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    float fe = (float)(e + big);
    float f = m - 1.0f;
    float z = f * f;
    float y = 7.0376836292E-2f;
    y = y * f - 1.1514610310E-1f;
    y = y * f + 1.1676998740E-1f;
    y = y * f - 1.2420140846E-1f;
    y = y * f + 1.4249322787E-1f;
    y = y * f - 1.6668057665E-1f;
    y = y * f + 2.0000714765E-1f;
    y = y * f - 2.4999993993E-1f;
    y = y * f + 3.3333331174E-1f;
    y = y * f * z;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return f + y + 0.693359375f * fe;
}

/* log(1 + u) for u in [0, 1], accurate for tiny u (float32). */
static inline float log1p_f(float u) {
    float m = 1.0f + u;
    /* (m - 1) rounds u; the correction term restores the lost low bits. */
    return log_f(m) + (u - (m - 1.0f)) / m;
}

static inline double exp_d(double x) { return exp(x); }
static inline double log_d(double x) { return log(x); }
static inline double log1p_d(double x) { return log1p(x); }
static inline double expm1_d(double x) { return expm1(x); }

/* ------------------------------------------------------------------------------------
 * Elementwise losses. kind: 0 mse, 1 mae, 2 huber(p1=delta), 3 smooth_l1(p1=beta > 0),
 * 4 log_cosh, 5 bce with logits (p1=pos_weight, p2=label smoothing),
 * 6 sigmoid focal (p1=gamma, p2=alpha, negative = none, p3=label smoothing), 7 the same
 * with gamma = 2 (q^2 without pow).
 * Writes loss[i] if loss != NULL and gs * dloss/dx into grad[i] if grad != NULL;
 * returns the sum of the losses.
 * ---------------------------------------------------------------------------------- */

#define ELEMENT_BODY(T, EXP, LOG, LOG1P, EXPM1)                                                      \
    T x = xs[i], y = ys[i], l, g;                                                        \
    switch (KIND) {                                                                      \
    case 0: { T d = x - y; l = d * d; g = (T)2 * d; break; }                            \
    case 1: { T d = x - y; l = d < 0 ? -d : d; g = (T)((d > 0) - (d < 0)); break; }      \
    case 2: { T d = x - y; T r = d < 0 ? -d : d; T m = r < p1 ? r : p1;                 \
              l = (T)0.5 * m * m + p1 * (r - m);                                         \
              g = d > p1 ? p1 : (d < -p1 ? -p1 : d); break; }                            \
    case 3: { T d = x - y; T r = d < 0 ? -d : d; T m = r < p1 ? r : p1;                 \
              l = (T)0.5 * m * m / p1 + (r - m);                                         \
              g = d > p1 ? (T)1 : (d < -p1 ? (T)-1 : d / p1); break; }                   \
    case 4: { T d = x - y; T r = d < 0 ? -d : d;                                       \
              /* u = e^-r - 1: below 1, log cosh r = log1p(cosh r - 1) with cosh r - 1 =   \
                 u^2 / (2 (1 + u)) (no cancellation for small r); beyond, r - log 2 +      \
                 log1p(e^-2r); tanh r = -u (2 + u) / (1 + e^-2r). One expm1, one log1p. */ \
              T u = EXPM1(-r); T e1 = (T)1 + u; int near = r < (T)1;                      \
              l = (near ? (T)0 : r - (T)0.69314718055994530942)                          \
                  + LOG1P(near ? u * u / ((T)2 * e1) : e1 * e1);                         \
              T th = -u * ((T)2 + u) / ((T)1 + e1 * e1); g = d < 0 ? -th : th; break; }  \
    case 5: { T yy = y * ((T)1 - p2) + (T)0.5 * p2; T a = x < 0 ? -x : x;               \
              T e = EXP(-a); T sp = LOG1P(e) + (x < 0 ? -x : (T)0); /* softplus(-x) */   \
              T lw = (T)1 + (p1 - (T)1) * yy;                                            \
              l = ((T)1 - yy) * x + lw * sp;                                             \
              T sneg = x < 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e); /* sigmoid(-x) */     \
              g = ((T)1 - yy) - lw * sneg; break; }                                      \
    default: { T yy = y * ((T)1 - p3) + (T)0.5 * p3; T a = x < 0 ? -x : x;              \
              T e = EXP(-a); T sp = LOG1P(e) + (x < 0 ? -x : (T)0);                      \
              T ce = ((T)1 - yy) * x + sp;                                               \
              T inv = (T)1 / ((T)1 + e); /* one division: sigmoid(|x|) */               \
              T s = x < 0 ? e * inv : inv;                                               \
              T sn = x < 0 ? inv : e * inv; /* 1 - s, no cancellation */                 \
              T q = yy * sn + ((T)1 - yy) * s; /* 1 - p_t */                             \
              T qg, qg1; /* q^gamma and gamma q^(gamma-1) */                             \
              if (KIND == 7) { qg = q * q; qg1 = (T)2 * q; } /* gamma = 2, the default */ \
              else { qg = q > 0 ? EXP(p1 * LOG(q > 0 ? q : (T)1)) : (T)(p1 == 0);        \
                     qg1 = q > 0 ? p1 * qg / q : (p1 == (T)1 ? (T)1 : (T)0); }           \
              T at = p2 < 0 ? (T)1 : p2 * yy + ((T)1 - p2) * ((T)1 - yy);                \
              T dq = ((T)1 - (T)2 * yy) * s * sn;           /* d(1 - p_t)/dx */            \
              l = at * ce * qg;                                                          \
              g = at * ((s - yy) * qg + ce * qg1 * dq); break; }                         \
    }

#define ELEMENT_LOOP(T, SUF, EXP, LOG, LOG1P, EXPM1, KIND_VALUE)                                 \
static double ew_##SUF##_##KIND_VALUE(int64_t n, const T* xs, const T* ys, T* loss,       \
                                        T* grad, T gs, T p1, T p2, T p3, int nt) {        \
    const int KIND = KIND_VALUE;                                                         \
    int64_t nb = (n + BLOCK - 1) / BLOCK;                                                \
    double total = 0.0;                                                                  \
    (void)p2; (void)p3;                                                                  \
    _Pragma("omp parallel for schedule(static) reduction(+:total) num_threads(nt)")       \
    for (int64_t b = 0; b < nb; b++) {                                                   \
        int64_t lo = b * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;                    \
        T acc = 0;                                                                       \
        if (grad && loss) {                                                              \
            _Pragma("omp simd reduction(+:acc)")                                          \
            for (int64_t i = lo; i < hi; i++) { ELEMENT_BODY(T, EXP, LOG, LOG1P, EXPM1)  \
                loss[i] = l; grad[i] = gs * g; acc += l; }                               \
        } else if (grad) {                                                               \
            _Pragma("omp simd reduction(+:acc)")                                          \
            for (int64_t i = lo; i < hi; i++) { ELEMENT_BODY(T, EXP, LOG, LOG1P, EXPM1)  \
                grad[i] = gs * g; acc += l; }                                            \
        } else if (loss) {                                                               \
            _Pragma("omp simd reduction(+:acc)")                                          \
            for (int64_t i = lo; i < hi; i++) { ELEMENT_BODY(T, EXP, LOG, LOG1P, EXPM1)  \
                (void)g; loss[i] = l; acc += l; }                                        \
        } else {                                                                         \
            _Pragma("omp simd reduction(+:acc)")                                          \
            for (int64_t i = lo; i < hi; i++) { ELEMENT_BODY(T, EXP, LOG, LOG1P, EXPM1)  \
                (void)g; acc += l; }                                                     \
        }                                                                                \
        total += (double)acc;                                                            \
    }                                                                                    \
    return total;                                                                        \
}

ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 0)
ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 1)
ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 2)
ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 3)
ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 4)
ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 5)
ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 6)
ELEMENT_LOOP(float, f32, exp_f, log_f, log1p_f, expm1_f, 7)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 0)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 1)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 2)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 3)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 4)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 5)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 6)
ELEMENT_LOOP(double, f64, exp_d, log_d, log1p_d, expm1_d, 7)

#define ELEMENT_DISPATCH(T, SUF)                                                         \
double losskit_elementwise_##SUF(int kind, int64_t n, const T* x, const T* y, T* loss,   \
                                 T* grad, double gs, double p1, double p2, double p3,    \
                                 int nt) {                                               \
    switch (kind) {                                                                      \
    case 0: return ew_##SUF##_0(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);   \
    case 1: return ew_##SUF##_1(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);   \
    case 2: return ew_##SUF##_2(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);   \
    case 3: return ew_##SUF##_3(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);   \
    case 4: return ew_##SUF##_4(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);   \
    case 5: return ew_##SUF##_5(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);   \
    case 6: return ew_##SUF##_6(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);   \
    default: return ew_##SUF##_7(n, x, y, loss, grad, (T)gs, (T)p1, (T)p2, (T)p3, nt);  \
    }                                                                                    \
}
ELEMENT_DISPATCH(float, f32)
ELEMENT_DISPATCH(double, f64)

/* ------------------------------------------------------------------------------------
 * Softmax cross entropy / focal over rows of x [N, C] with integer targets.
 *
 *   m_i = max_c x_ic, s_i = sum_c exp(x_ic - m_i), lse_i = m_i + log s_i,
 *   l_i = (x_it - m_i) - log s_i  (log p of the target; x_it - lse_i would cancel)
 *   cross entropy:  loss_i = -a_i l_i + b (W log s_i - sum_c w_c (x_ic - m_i)) + w_t z lse_i^2
 *       a_i = (1 - ls) w_t, b = ls / C, W = sum_c w_c (w = class weights, or 1)
 *       dloss/dx_ij = a_i (p_ij - [j = t]) + b (W p_ij - w_j) + 2 w_t z lse_i p_ij
 *   focal (gamma > 0, no smoothing): loss_i = -w_t (1 - p_t)^gamma l_i
 *       dloss/dx_ij = A_i (p_ij - [j = t]),  A_i = w_t ((1-p)^g - g (1-p)^(g-1) p l)
 * Rows whose target is ignore_index get loss 0 and a zero gradient. grad may alias x
 * (the logits buffer is overwritten in place). gs[i] (or gs0 when gs is NULL) scales
 * row i of the gradient. lse_out (optional) receives lse_i.
 * ---------------------------------------------------------------------------------- */
#define ROWS_KERNEL(T, SUF, EXP, LOG, LOG1P)                                             \
void losskit_softmax_rows_##SUF(int64_t N, int64_t C, const T* x, const int64_t* target, \
                                const T* cw, int64_t ignore_index, double ls, double zl, \
                                double gamma, T* loss, T* lse_out, T* grad,              \
                                const T* gs, double gs0, int nt) {                       \
    T W = (T)C;                                                                          \
    if (cw) { double s = 0; for (int64_t c = 0; c < C; c++) s += cw[c]; W = (T)s; }     \
    const T b = (T)(ls / (double)C);                                                     \
    _Pragma("omp parallel for schedule(static) num_threads(nt)")                          \
    for (int64_t i = 0; i < N; i++) {                                                    \
        const T* xi = x + i * C;                                                         \
        T* gi = grad ? grad + i * C : (T*)0;                                             \
        int64_t t = target[i];                                                           \
        if (t == ignore_index || t < 0 || t >= C) {                                      \
            loss[i] = 0; if (lse_out) lse_out[i] = 0;                                    \
            if (gi) memset(gi, 0, sizeof(T) * C);                                        \
            continue;                                                                    \
        }                                                                                \
        T mx = xi[0];                                                                    \
        _Pragma("omp simd reduction(max:mx)")                                            \
        for (int64_t c = 0; c < C; c++) mx = xi[c] > mx ? xi[c] : mx;                   \
        const T xt = xi[t]; /* read before gi (which may alias xi) is written */          \
        T s = 0, wxm = 0; /* wxm = sum_c w_c (x_c - mx): shifted, so it cannot overflow */ \
        if (b != 0) {                                                                    \
            if (cw) { _Pragma("omp simd reduction(+:wxm)")                               \
                      for (int64_t c = 0; c < C; c++) wxm += cw[c] * (xi[c] - mx); }     \
            else    { _Pragma("omp simd reduction(+:wxm)")                               \
                      for (int64_t c = 0; c < C; c++) wxm += xi[c] - mx; }               \
        }                                                                                \
        if (gi) { _Pragma("omp simd reduction(+:s)")                                     \
                  for (int64_t c = 0; c < C; c++) { T e = EXP(xi[c] - mx); gi[c] = e; s += e; } } \
        else    { _Pragma("omp simd reduction(+:s)")                                     \
                  for (int64_t c = 0; c < C; c++) s += EXP(xi[c] - mx); }                \
        const T log_s = LOG(s);                                                          \
        const T lse = mx + log_s;                                                        \
        const T wt = cw ? cw[t] : (T)1;                                                  \
        /* a target class of weight 0 drops the position, its smoothing term too */      \
        const T bi = (cw && wt == 0) ? (T)0 : b;                                         \
        /* log p_t = (x_t - mx) - log s: x_t - lse would cancel at large logits. */      \
        const T lp = (xt - mx) - log_s;                                                  \
        T A, li;                                                                         \
        if (gamma > 0) {                                                                 \
            T p = EXP(lp); p = p > 1 ? (T)1 : p; T q = (T)1 - p;                         \
            T qg = q > 0 ? EXP((T)gamma * LOG(q)) : (T)0;                                \
            T qg1 = q > 0 ? (T)gamma * qg / q : (gamma == 1 ? (T)1 : (T)0);              \
            T plp = p > 0 ? p * lp : (T)0; /* p log p -> 0: no 0 * inf at huge logits */ \
            li = -wt * qg * lp;                                                          \
            A = wt * (qg - qg1 * plp);                                                   \
        } else {                                                                         \
            A = ((T)1 - (T)ls) * wt;                                                     \
            li = -A * lp;                                                                \
            if (b != 0) li += bi * (W * log_s - wxm);                                    \
        }                                                                                \
        if (zl != 0) li += wt * (T)zl * lse * lse; /* the class weight scales z-loss too */                                            \
        loss[i] = li;                                                                    \
        if (lse_out) lse_out[i] = lse;                                                   \
        if (gi) {                                                                        \
            const T g = gs ? gs[i] : (T)gs0;                                             \
            const T cp = g * (A + bi * W + (T)(2.0 * zl) * wt * lse) / s; /* times e_c */\
            if (b != 0 && cw) {                                                          \
                const T cb = g * bi;                                                     \
                _Pragma("omp simd")                                                       \
                for (int64_t c = 0; c < C; c++) gi[c] = cp * gi[c] - cb * cw[c];         \
            } else {                                                                     \
                const T cb = g * bi;                                                     \
                _Pragma("omp simd")                                                       \
                for (int64_t c = 0; c < C; c++) gi[c] = cp * gi[c] - cb;                 \
            }                                                                            \
            gi[t] -= g * A;                                                              \
        }                                                                                \
    }                                                                                    \
}
ROWS_KERNEL(float, f32, exp_f, log_f, log1p_f)
ROWS_KERNEL(double, f64, exp_d, log_d, log1p_d)

/* dst[i] *= s (used by backward when the upstream gradient is a scalar != 1). */
void losskit_scale_f32(int64_t n, float* dst, float s, int nt) {
    _Pragma("omp parallel for simd schedule(static) num_threads(nt)")
    for (int64_t i = 0; i < n; i++) dst[i] *= s;
}

/* ------------------------------------------------------------------------------------
 * Overlap statistics of a softmax over channels with index targets (Dice family).
 * x [N, C, S] logits, t [N, S] int64 in 0..C-1, valid [N, S] bytes (0/1) or NULL.
 * Forward (double outputs [N, C], overwritten):
 *   inter[n,c] = sum_{s: t_s = c} v_s p_cs,  pred[n,c] = sum_s v_s p_cs,
 *   tgt[n,c] = sum_{s: t_s = c} v_s.
 * Backward: grad[n,c,s] = v_s p_cs (g_cs - sum_k p_ks g_ks), g_cs = gP[n,c] + gI[n,c] [t_s = c];
 * the softmax is recomputed per voxel, so no [N, C, S] tensor is kept in between.
 * Returns 0, or -1 when C > OV_MAXC (callers take the plain path), -2 out of memory.
 * ---------------------------------------------------------------------------------- */
#include <stdlib.h>
#define OV_MAXC 16
#define OV_BV 256
#define OV_CHUNK 8192

#define OVERLAP_KERNELS(T, SUF, EXP)                                                      \
static void ov_softmax_##SUF(int64_t C, int64_t S, const T* x, const uint8_t* vn,       \
                             int64_t lo, int64_t len, T e[OV_MAXC][OV_BV], T* inv) {    \
    T m[OV_BV];                                                                          \
    for (int64_t v = 0; v < len; v++) m[v] = x[lo + v];                                  \
    for (int64_t c = 1; c < C; c++) {                                                    \
        const T* xc = x + c * S + lo;                                                    \
        _Pragma("omp simd")                                                               \
        for (int64_t v = 0; v < len; v++) m[v] = xc[v] > m[v] ? xc[v] : m[v];            \
    }                                                                                    \
    for (int64_t v = 0; v < len; v++) inv[v] = 0;                                        \
    for (int64_t c = 0; c < C; c++) {                                                    \
        const T* xc = x + c * S + lo;                                                    \
        _Pragma("omp simd")                                                               \
        for (int64_t v = 0; v < len; v++) { T ev = EXP(xc[v] - m[v]); e[c][v] = ev; inv[v] += ev; } \
    }                                                                                    \
    _Pragma("omp simd")                                                                   \
    for (int64_t v = 0; v < len; v++)                                                    \
        inv[v] = (vn && !vn[lo + v]) ? (T)0 : (T)1 / inv[v];                             \
}                                                                                        \
                                                                                         \
int losskit_overlap_softmax_fwd_##SUF(int64_t N, int64_t C, int64_t S, const T* x,       \
                                      const int64_t* t, const uint8_t* valid,            \
                                      double* inter, double* pred, double* tgt, int nt) { \
    if (C > OV_MAXC || C < 1) return -1;                                                 \
    const int64_t nbs = (S + OV_CHUNK - 1) / OV_CHUNK, tasks = N * nbs;                  \
    double* part = (double*)calloc((size_t)(tasks * 3 * C + 1), sizeof(double));        \
    if (!part) return -2;                                                                \
    _Pragma("omp parallel for schedule(static) num_threads(nt)")                          \
    for (int64_t task = 0; task < tasks; task++) {                                       \
        const int64_t n = task / nbs, b = task % nbs;                                    \
        const T* xn = x + n * C * S;                                                     \
        const int64_t* tn = t + n * S;                                                   \
        const uint8_t* vn = valid ? valid + n * S : (const uint8_t*)0;                   \
        double* ai = part + task * 3 * C;                                                \
        double* ap = ai + C;                                                             \
        double* at = ai + 2 * C;                                                         \
        T e[OV_MAXC][OV_BV];                                                             \
        T inv[OV_BV];                                                                    \
        const int64_t end = (b + 1) * OV_CHUNK < S ? (b + 1) * OV_CHUNK : S;            \
        for (int64_t lo = b * OV_CHUNK; lo < end; lo += OV_BV) {                         \
            const int64_t len = end - lo < OV_BV ? end - lo : OV_BV;                     \
            ov_softmax_##SUF(C, S, xn, vn, lo, len, e, inv);                             \
            for (int64_t c = 0; c < C; c++) {                                            \
                T acc = 0;                                                               \
                _Pragma("omp simd reduction(+:acc)")                                      \
                for (int64_t v = 0; v < len; v++) acc += e[c][v] * inv[v];               \
                ap[c] += (double)acc;                                                    \
            }                                                                            \
            T si[OV_MAXC], st[OV_MAXC];                                                  \
            for (int64_t c = 0; c < C; c++) { si[c] = 0; st[c] = 0; }                    \
            for (int64_t v = 0; v < len; v++) {                                          \
                const int64_t tv = tn[lo + v];                                           \
                si[tv] += e[tv][v] * inv[v];                                             \
                st[tv] += vn ? (T)vn[lo + v] : (T)1;                                     \
            }                                                                            \
            for (int64_t c = 0; c < C; c++) { ai[c] += (double)si[c]; at[c] += (double)st[c]; } \
        }                                                                                \
    }                                                                                    \
    for (int64_t i = 0; i < N * C; i++) { inter[i] = 0; pred[i] = 0; tgt[i] = 0; }       \
    for (int64_t task = 0; task < tasks; task++) {                                       \
        const int64_t n = task / nbs;                                                    \
        const double* ai = part + task * 3 * C;                                          \
        for (int64_t c = 0; c < C; c++) {                                                \
            inter[n * C + c] += ai[c]; pred[n * C + c] += ai[C + c];                     \
            tgt[n * C + c] += ai[2 * C + c];                                             \
        }                                                                                \
    }                                                                                    \
    free(part);                                                                          \
    return 0;                                                                            \
}                                                                                        \
                                                                                         \
int losskit_overlap_softmax_bwd_##SUF(int64_t N, int64_t C, int64_t S, const T* x,       \
                                      const int64_t* t, const uint8_t* valid,            \
                                      const T* g_inter, const T* g_pred, T* grad, int nt) { \
    if (C > OV_MAXC || C < 1) return -1;                                                 \
    const int64_t nbs = (S + OV_CHUNK - 1) / OV_CHUNK, tasks = N * nbs;                  \
    _Pragma("omp parallel for schedule(static) num_threads(nt)")                          \
    for (int64_t task = 0; task < tasks; task++) {                                       \
        const int64_t n = task / nbs, b = task % nbs;                                    \
        const T* xn = x + n * C * S;                                                     \
        T* gn = grad + n * C * S;                                                        \
        const int64_t* tn = t + n * S;                                                   \
        const uint8_t* vn = valid ? valid + n * S : (const uint8_t*)0;                   \
        const T* gp = g_pred + n * C;                                                    \
        const T* gi = g_inter + n * C;                                                   \
        T e[OV_MAXC][OV_BV];                                                             \
        T inv[OV_BV], mg[OV_BV];                                                         \
        const int64_t end = (b + 1) * OV_CHUNK < S ? (b + 1) * OV_CHUNK : S;            \
        for (int64_t lo = b * OV_CHUNK; lo < end; lo += OV_BV) {                         \
            const int64_t len = end - lo < OV_BV ? end - lo : OV_BV;                     \
            ov_softmax_##SUF(C, S, xn, vn, lo, len, e, inv);                             \
            for (int64_t v = 0; v < len; v++) { const int64_t tv = tn[lo + v];           \
                                                mg[v] = e[tv][v] * gi[tv]; }             \
            for (int64_t c = 0; c < C; c++) {                                            \
                const T gc = gp[c];                                                      \
                _Pragma("omp simd")                                                       \
                for (int64_t v = 0; v < len; v++) mg[v] += e[c][v] * gc;                 \
            }                                                                            \
            _Pragma("omp simd")                                                           \
            for (int64_t v = 0; v < len; v++) mg[v] *= inv[v];                           \
            for (int64_t c = 0; c < C; c++) {                                            \
                const T gc = gp[c], gt = gi[c];                                          \
                T* out = gn + c * S + lo;                                                \
                const int64_t* tl = tn + lo;                                             \
                _Pragma("omp simd")                                                       \
                for (int64_t v = 0; v < len; v++)                                        \
                    out[v] = e[c][v] * inv[v] * (gc + (tl[v] == c ? gt : (T)0) - mg[v]); \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
    return 0;                                                                            \
}
OVERLAP_KERNELS(float, f32, exp_f)
OVERLAP_KERNELS(double, f64, exp_d)

/* ------------------------------------------------------------------------------------
 * losskit_unit_range: 1 if every x[i] lies in [0, 1] (NaN fails), else 0. Serial: the
 * probability check of small calls, where a torch reduction costs more than the data.
 * ---------------------------------------------------------------------------------- */
#define UNIT_RANGE(T, SUF)                                                               \
int losskit_unit_range_##SUF(int64_t n, const T* x) {                                    \
    int bad = 0;                                                                         \
    _Pragma("omp simd reduction(|:bad)")                                                 \
    for (int64_t i = 0; i < n; i++) bad |= !(x[i] >= (T)0 && x[i] <= (T)1);              \
    return !bad;                                                                         \
}
UNIT_RANGE(float, f32)
UNIT_RANGE(double, f64)

/* ------------------------------------------------------------------------------------
 * CORAL: x [N, K] threshold logits, t [N] int64 ranks, level_ik = [t_i > k],
 *   loss_i = sum_k w_k softplus(level ? -x_ik : x_ik)      (w = importance weights or 1)
 *   dloss_i/dx_ik = w_k (sigmoid(x_ik) - level_ik)
 * softplus(z) = max(z, 0) + log1p(exp(-|z|)) and sigmoid(-x) are formed without
 * cancellation. Writes loss_i into rows[i] if rows != NULL and gs_i * dloss_i/dx_ik
 * into grad if grad != NULL (gs_i = gs[i], or gs0 when gs is NULL); returns sum_i loss_i.
 * ---------------------------------------------------------------------------------- */
/* Elements per block (K <= CORAL_BLOCK): the level / weight / scale rows are laid out
 * flat first, so the transcendental loop runs over contiguous data. */
#define CORAL_BLOCK 2048
#define CORAL_KERNEL(T, SUF, EXP, LOG1P, CUT)                                            \
double losskit_coral_##SUF(int64_t N, int64_t K, const T* x, const int64_t* t,          \
                           const T* w, T* rows, T* grad, const T* gs, double gs0,       \
                           int nt) {                                                     \
    double total = 0.0;                                                                  \
    if (N <= 0 || K <= 0 || K > CORAL_BLOCK) return 0.0; /* callers check K first */     \
    const int64_t rb = CORAL_BLOCK / K; /* rows per block */                             \
    const int64_t nb = (N + rb - 1) / rb;                                                \
    _Pragma("omp parallel reduction(+:total) num_threads(nt)")                            \
    {                                                                                    \
        T lv[CORAL_BLOCK], wv[CORAL_BLOCK], gv[CORAL_BLOCK], lb[CORAL_BLOCK];            \
        _Pragma("omp for schedule(static)")                                               \
        for (int64_t b = 0; b < nb; b++) {                                               \
            const int64_t r0 = b * rb, r1 = r0 + rb < N ? r0 + rb : N;                   \
            const int64_t m = (r1 - r0) * K;                                             \
            const T* xb = x + r0 * K;                                                    \
            T* gb = grad ? grad + r0 * K : (T*)0;                                        \
            for (int64_t i = r0; i < r1; i++) {                                          \
                const int64_t ti = t[i], o = (i - r0) * K;                               \
                const T gi = gs ? gs[i] : (T)gs0;                                        \
                for (int64_t k = 0; k < K; k++) {                                        \
                    lv[o + k] = ti > k ? (T)1 : (T)0;                                    \
                    wv[o + k] = w ? w[k] : (T)1;                                         \
                    gv[o + k] = gi * wv[o + k];                                          \
                }                                                                        \
            }                                                                            \
            T acc = 0;                                                                   \
            _Pragma("omp simd reduction(+:acc)")                                          \
            for (int64_t j = 0; j < m; j++) {                                            \
                const T xv = xb[j];                                                      \
                const int lev = lv[j] != 0;                                              \
                const T a = xv < 0 ? -xv : xv;                                           \
                const T e = a > (T)CUT ? (T)0 : EXP(-a);  /* exp_f saturates, not 0 */   \
                const T z = lev ? -xv : xv;                                              \
                const T l = wv[j] * ((z > 0 ? z : (T)0) + LOG1P(e));                     \
                acc += l;                                                                \
                lb[j] = l;                                                               \
                if (gb) {                                                                \
                    const T r = (T)1 / ((T)1 + e);                                       \
                    const T big = r, small = e * r;  /* sigmoid(|x|), sigmoid(-|x|) */   \
                    const T s_pos = xv >= 0 ? big : small;  /* sigmoid(x) */             \
                    const T s_neg = xv >= 0 ? small : big;  /* 1 - sigmoid(x) */         \
                    gb[j] = gv[j] * (lev ? -s_neg : s_pos);                              \
                }                                                                        \
            }                                                                            \
            if (rows)                                                                    \
                for (int64_t i = r0; i < r1; i++) {                                      \
                    T ri = 0; const T* li = lb + (i - r0) * K;                           \
                    for (int64_t k = 0; k < K; k++) ri += li[k];                         \
                    rows[i] = ri;                                                        \
                }                                                                        \
            total += (double)acc;                                                        \
        }                                                                                \
    }                                                                                    \
    return total;                                                                        \
}
CORAL_KERNEL(float, f32, exp_f, log1p_f, 87.3)
CORAL_KERNEL(double, f64, exp_d, log1p_d, 746.0)
