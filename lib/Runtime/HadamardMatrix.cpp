//===- HadamardMatrix.cpp - Construction of the K x K Hadamard factors ----===//
//
// Builds H_K from finite-field quadratic characters instead of embedding
// tables: Paley I (order q + 1, q = 3 mod 4) and Paley II (order 2(q + 1),
// q = 1 mod 4), over GF(q) for q = p or p^2 / p^3 (GF(27) for K = 28, GF(25)
// for K = 52), and H_40 = H_2 (x) H_20. The tests check H H^T = K I for every
// K; the choices match the Numerics library's factors (same online and
// offline matrices).
//
//===----------------------------------------------------------------------===//

#include "HadamardMatrix.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace respin::rt {
namespace {

/// GF(p^e) for e <= 3, elements encoded as base-p digit vectors (integers in
/// [0, q)), multiplication modulo a monic irreducible polynomial.
class FiniteField {
public:
  FiniteField(int p, int e) : p(p), e(e), q(1) {
    for (int i = 0; i < e; ++i)
      q *= p;
    if (e > 1)
      findIrreducible();
    std::vector<bool> isSquare(q, false);
    for (int a = 1; a < q; ++a)
      isSquare[mul(a, a)] = true;
    chi.assign(q, 0);
    for (int a = 1; a < q; ++a)
      chi[a] = isSquare[a] ? 1 : -1;
  }

  int size() const { return q; }
  int sub(int a, int b) const {
    int r = 0, place = 1;
    for (int i = 0; i < e; ++i, place *= p) {
      int da = a / place % p, db = b / place % p;
      r += ((da - db + p) % p) * place;
    }
    return r;
  }
  /// Quadratic character: 0, +1 (nonzero square), -1.
  int character(int a) const { return chi[a]; }

private:
  std::vector<int> digits(int a) const {
    std::vector<int> d(e);
    for (int i = 0; i < e; ++i, a /= p)
      d[i] = a % p;
    return d;
  }

  int mul(int a, int b) const {
    if (e == 1)
      return a * b % p;
    std::vector<int> da = digits(a), db = digits(b), prod(2 * e - 1, 0);
    for (int i = 0; i < e; ++i)
      for (int j = 0; j < e; ++j)
        prod[i + j] = (prod[i + j] + da[i] * db[j]) % p;
    // Reduce with x^e = -(f_{e-1} x^{e-1} + ... + f_0).
    for (int deg = 2 * e - 2; deg >= e; --deg) {
      int c = prod[deg];
      prod[deg] = 0;
      for (int i = 0; i < e; ++i)
        prod[deg - e + i] = ((prod[deg - e + i] - c * poly[i]) % p + p) % p;
    }
    int r = 0, place = 1;
    for (int i = 0; i < e; ++i, place *= p)
      r += prod[i] * place;
    return r;
  }

  /// A degree-2 or -3 polynomial is irreducible iff it has no root in GF(p).
  void findIrreducible() {
    int count = 1;
    for (int i = 0; i < e; ++i)
      count *= p;
    for (int code = 0; code < count; ++code) {
      std::vector<int> f(e);
      for (int i = 0, c = code; i < e; ++i, c /= p)
        f[i] = c % p;
      bool hasRoot = false;
      for (int x = 0; x < p && !hasRoot; ++x) {
        int v = 1; // x^e + sum f_i x^i, Horner from the top.
        for (int i = e - 1; i >= 0; --i)
          v = (v * x + f[i]) % p;
        hasRoot = v == 0;
      }
      if (!hasRoot) {
        poly = f;
        return;
      }
    }
  }

  int p, e, q;
  std::vector<int> poly; // f_0 .. f_{e-1} of the monic modulus
  std::vector<int> chi;
};

using Matrix = std::vector<int8_t>;

/// Paley I: H = I + [[0, 1^T], [-1, Q]], Q[a][b] = chi(a - b), order q + 1.
Matrix paleyI(int p, int e) {
  FiniteField f(p, e);
  int q = f.size(), n = q + 1;
  Matrix h(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      int s;
      if (i == 0)
        s = j == 0 ? 0 : 1;
      else if (j == 0)
        s = -1;
      else
        s = f.character(f.sub(i - 1, j - 1));
      h[i * n + j] = (int8_t)(s + (i == j ? 1 : 0));
    }
  return h;
}

/// Paley II: conference matrix C = [[0, 1^T], [1, Q]] (symmetric for
/// q = 1 mod 4); H = C (x) [[1, 1], [1, -1]] + I (x) [[1, -1], [-1, -1]].
Matrix paleyII(int p, int e) {
  FiniteField f(p, e);
  int q = f.size(), c = q + 1, n = 2 * c;
  Matrix h(n * n);
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j) {
      int s;
      if (i == 0 || j == 0)
        s = i == j ? 0 : 1;
      else
        s = f.character(f.sub(i - 1, j - 1));
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          int v = s != 0 ? s * ((a & b) ? -1 : 1) : ((a | b) ? -1 : 1);
          h[(2 * i + a) * n + (2 * j + b)] = (int8_t)v;
        }
    }
  return h;
}

Matrix kron(const Matrix &a, int na, const Matrix &b, int nb) {
  int n = na * nb;
  Matrix h(n * n);
  for (int i = 0; i < na; ++i)
    for (int j = 0; j < na; ++j)
      for (int k = 0; k < nb; ++k)
        for (int l = 0; l < nb; ++l)
          h[(i * nb + k) * n + (j * nb + l)] =
              (int8_t)(a[i * na + j] * b[k * nb + l]);
  return h;
}

struct Factor {
  int k;
  Matrix h;
};

const std::vector<Factor> &factors() {
  static const std::vector<Factor> table = [] {
    std::vector<Factor> t;
    Matrix h20 = paleyI(19, 1);
    // Largest first: hadamardFactor picks the first K that fits.
    t.push_back({140, paleyI(139, 1)});
    t.push_back({108, paleyI(107, 1)});
    t.push_back({76, paleyII(37, 1)});
    t.push_back({60, paleyI(59, 1)});
    t.push_back({52, paleyII(5, 2)});
    t.push_back({44, paleyI(43, 1)});
    t.push_back({40, kron(Matrix{1, 1, 1, -1}, 2, h20, 20)});
    t.push_back({36, paleyII(17, 1)});
    t.push_back({28, paleyI(3, 3)});
    t.push_back({20, h20});
    t.push_back({12, paleyI(11, 1)});
    t.push_back({1, Matrix{1}});
    return t;
  }();
  return table;
}

} // namespace

const int8_t *hadamardMatrix(int64_t k) {
  for (const Factor &f : factors())
    if (f.k == k)
      return f.h.data();
  return nullptr;
}

bool hadamardFactor(int64_t n, int64_t &k, int64_t &pow2) {
  if (n < 1)
    return false;
  for (const Factor &f : factors()) {
    if (n % f.k != 0)
      continue;
    int64_t rest = n / f.k;
    if ((rest & (rest - 1)) == 0) {
      k = f.k;
      pow2 = rest;
      return true;
    }
  }
  return false;
}

const char *hadamardSizes() {
  static const std::string list = [] {
    std::vector<int> ks;
    for (const Factor &f : factors())
      ks.push_back(f.k);
    std::sort(ks.begin(), ks.end());
    std::string s;
    for (int k : ks)
      s += (s.empty() ? "" : ",") + std::to_string(k);
    return s;
  }();
  return list.c_str();
}

} // namespace respin::rt
