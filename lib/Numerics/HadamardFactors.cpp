//===- HadamardFactors.cpp - Integer +-1 Hadamard factors -----------------===//
//
// Sylvester, Paley I/II (with GF(p^k) arithmetic for the prime powers 25 and
// 27), Sylvester doubling and Williamson's construction, plus the size-split
// rule. Standard library only; see the header for why.
//
//===----------------------------------------------------------------------===//

#include "respin/Numerics/HadamardFactors.h"

#include <cassert>

using namespace respin;

//===----------------------------------------------------------------------===//
// The factor table
//===----------------------------------------------------------------------===//

const std::vector<HadamardFactorInfo> &respin::hadamardFactorTable() {
  // Paley where a prime power fits; 40 = 2 * 20 by doubling; 156 and 172 have
  // no Paley order (155, 77, 171, 85 are not prime powers), so Williamson.
  static const std::vector<HadamardFactorInfo> table = {
      {1, HadamardConstruction::Sylvester, 0},
      {12, HadamardConstruction::PaleyI, 11},
      {20, HadamardConstruction::PaleyI, 19},
      {28, HadamardConstruction::PaleyI, 27},
      {36, HadamardConstruction::PaleyII, 17},
      {40, HadamardConstruction::Doubling, 20},
      {44, HadamardConstruction::PaleyI, 43},
      {52, HadamardConstruction::PaleyII, 25},
      {60, HadamardConstruction::PaleyI, 59},
      {76, HadamardConstruction::PaleyII, 37},
      {108, HadamardConstruction::PaleyI, 107},
      {140, HadamardConstruction::PaleyI, 139},
      {156, HadamardConstruction::Williamson, 39},
      {172, HadamardConstruction::Williamson, 43},
  };
  return table;
}

const HadamardFactorInfo *respin::findHadamardFactor(int64_t order) {
  for (const HadamardFactorInfo &info : hadamardFactorTable())
    if (info.order == order)
      return &info;
  return nullptr;
}

static bool isPowerOfTwo(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

static int log2Exact(int64_t x) {
  int m = 0;
  while ((int64_t(1) << m) < x)
    ++m;
  return m;
}

std::optional<HadamardSplit> respin::splitHadamardSize(int64_t n) {
  if (n <= 0)
    return std::nullopt;
  const std::vector<HadamardFactorInfo> &table = hadamardFactorTable();
  // Largest K first: only 20 and 40 can both fit one n, and the reference
  // code picks 40.
  for (auto it = table.rbegin(); it != table.rend(); ++it)
    if (n % it->order == 0 && isPowerOfTwo(n / it->order))
      return HadamardSplit{it->order, log2Exact(n / it->order)};
  return std::nullopt;
}

std::string respin::supportedHadamardFactorList() {
  std::string list = "{";
  for (const HadamardFactorInfo &info : hadamardFactorTable()) {
    if (list.size() > 1)
      list += ", ";
    list += std::to_string(info.order);
  }
  return list + "}";
}

std::string respin::unsupportedHadamardSizeMessage(int64_t n) {
  std::string tail = ": supported sizes are K·2^m with K in " +
                     supportedHadamardFactorList();
  if (n <= 0)
    return "no Hadamard matrix of size " + std::to_string(n) +
           " (sizes must be positive)" + tail;
  int64_t odd = n;
  int twos = 0;
  while (odd % 2 == 0) {
    odd /= 2;
    ++twos;
  }
  return "no Hadamard matrix of size " + std::to_string(n) + " = " +
         std::to_string(odd) + "·2^" + std::to_string(twos) + tail;
}

std::vector<int8_t> respin::hadamardFactor(int64_t order) {
  const HadamardFactorInfo *info = findHadamardFactor(order);
  if (!info)
    return {};
  switch (info->construction) {
  case HadamardConstruction::Sylvester:
    return sylvesterHadamard(log2Exact(order));
  case HadamardConstruction::PaleyI:
    return paleyIHadamard(info->parameter);
  case HadamardConstruction::PaleyII:
    return paleyIIHadamard(info->parameter);
  case HadamardConstruction::Doubling:
    return doubleHadamard(hadamardFactor(info->parameter), info->parameter);
  case HadamardConstruction::Williamson:
    return williamsonArray(williamsonFirstRows(info->parameter));
  }
  return {};
}

//===----------------------------------------------------------------------===//
// Sylvester and doubling
//===----------------------------------------------------------------------===//

std::vector<int8_t> respin::sylvesterHadamard(int m) {
  assert(m >= 0 && m < 31 && "Sylvester order out of range");
  int64_t size = int64_t(1) << m;
  std::vector<int8_t> h(size * size);
  for (int64_t i = 0; i < size; ++i)
    for (int64_t j = 0; j < size; ++j)
      h[i * size + j] = __builtin_parityll(uint64_t(i & j)) ? -1 : 1;
  return h;
}

std::vector<int8_t> respin::doubleHadamard(const std::vector<int8_t> &h,
                                           int64_t k) {
  if (k <= 0 || int64_t(h.size()) != k * k)
    return {};
  std::vector<int8_t> result(4 * k * k);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      int8_t v = h[i * k + j];
      result[i * 2 * k + j] = v;
      result[i * 2 * k + k + j] = v;
      result[(k + i) * 2 * k + j] = v;
      result[(k + i) * 2 * k + k + j] = int8_t(-v);
    }
  return result;
}

//===----------------------------------------------------------------------===//
// Finite fields and Paley
//===----------------------------------------------------------------------===//

bool respin::isPrimePower(int64_t q, int64_t &prime, int &power) {
  if (q < 2)
    return false;
  int64_t p = 2;
  while (p * p <= q && q % p != 0)
    ++p;
  if (q % p != 0)
    p = q; // q itself is prime
  int k = 0;
  int64_t rest = q;
  while (rest % p == 0) {
    rest /= p;
    ++k;
  }
  if (rest != 1)
    return false;
  prime = p;
  power = k;
  return true;
}

namespace {

/// GF(p^k) with elements numbered 0 .. q-1 by their base-p digits (digit i is
/// the coefficient of x^i). Multiplication reduces modulo the first monic
/// irreducible polynomial of degree k in digit order. Only what Paley needs.
class GaloisField {
public:
  GaloisField(int64_t p, int k) : p(p), k(k) {
    q = 1;
    for (int i = 0; i < k; ++i)
      q *= p;
    if (k > 1)
      findModulus();
  }

  int64_t size() const { return q; }

  int64_t sub(int64_t a, int64_t b) const {
    int64_t result = 0, place = 1;
    for (int i = 0; i < k; ++i) {
      int64_t da = a % p, db = b % p;
      result += ((da - db + p) % p) * place;
      a /= p;
      b /= p;
      place *= p;
    }
    return result;
  }

  int64_t mul(int64_t a, int64_t b) const {
    if (k == 1)
      return (a * b) % p;
    std::vector<int64_t> da = digits(a), db = digits(b);
    std::vector<int64_t> prod(2 * k - 1, 0);
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j)
        prod[i + j] = (prod[i + j] + da[i] * db[j]) % p;
    // x^k = -(modulus[0] + ... + modulus[k-1] x^(k-1)).
    for (int d = 2 * k - 2; d >= k; --d) {
      int64_t c = prod[d];
      prod[d] = 0;
      for (int i = 0; i < k; ++i)
        prod[d - k + i] = ((prod[d - k + i] - c * modulus[i]) % p + p) % p;
    }
    int64_t result = 0;
    for (int i = k - 1; i >= 0; --i)
      result = result * p + prod[i];
    return result;
  }

private:
  std::vector<int64_t> digits(int64_t a) const {
    std::vector<int64_t> d(k);
    for (int i = 0; i < k; ++i) {
      d[i] = a % p;
      a /= p;
    }
    return d;
  }

  /// Remainder of the monic degree-k polynomial (low coefficients `f`) by the
  /// monic polynomial with low coefficients `g` (degree g.size()), mod p.
  bool divides(const std::vector<int64_t> &g, const std::vector<int64_t> &f) {
    std::vector<int64_t> rem = f;
    rem.push_back(1);
    int dg = int(g.size());
    for (int d = k; d >= dg; --d) {
      int64_t c = rem[d];
      if (c == 0)
        continue;
      rem[d] = 0;
      for (int i = 0; i < dg; ++i)
        rem[d - dg + i] = ((rem[d - dg + i] - c * g[i]) % p + p) % p;
    }
    for (int64_t c : rem)
      if (c != 0)
        return false;
    return true;
  }

  /// Irreducible iff no monic factor of degree 1 .. k/2 (trial division).
  bool irreducible(const std::vector<int64_t> &f) {
    for (int dg = 1; dg <= k / 2; ++dg) {
      int64_t count = 1;
      for (int i = 0; i < dg; ++i)
        count *= p;
      for (int64_t code = 0; code < count; ++code) {
        std::vector<int64_t> g(dg);
        int64_t rest = code;
        for (int i = 0; i < dg; ++i) {
          g[i] = rest % p;
          rest /= p;
        }
        if (divides(g, f))
          return false;
      }
    }
    return true;
  }

  void findModulus() {
    for (int64_t code = 0; code < q; ++code) {
      std::vector<int64_t> f = digits(code);
      if (irreducible(f)) {
        modulus = f;
        return;
      }
    }
    assert(false && "an irreducible polynomial of every degree exists");
  }

  int64_t p;
  int k;
  int64_t q;
  std::vector<int64_t> modulus; // low coefficients of the monic modulus
};

} // namespace

/// Largest field order jacobsthalMatrix accepts (q^2 entries are built).
static constexpr int64_t kMaxFieldOrder = 4096;

std::vector<int8_t> respin::jacobsthalMatrix(int64_t q) {
  int64_t p;
  int k;
  if (q > kMaxFieldOrder || !isPrimePower(q, p, k) || p == 2)
    return {};
  GaloisField field(p, k);
  std::vector<int8_t> chi(q, -1);
  chi[0] = 0;
  for (int64_t x = 1; x < q; ++x)
    chi[field.mul(x, x)] = 1;
  std::vector<int8_t> jac(q * q);
  for (int64_t i = 0; i < q; ++i)
    for (int64_t j = 0; j < q; ++j)
      jac[i * q + j] = chi[field.sub(i, j)];
  return jac;
}

std::vector<int8_t> respin::paleyIHadamard(int64_t q) {
  if (q % 4 != 3)
    return {};
  std::vector<int8_t> jac = jacobsthalMatrix(q);
  if (jac.empty())
    return {};
  int64_t order = q + 1;
  std::vector<int8_t> h(order * order);
  for (int64_t i = 0; i < order; ++i)
    for (int64_t j = 0; j < order; ++j) {
      int s; // the skew-symmetric core S = [[0, 1^T], [-1, Q]]
      if (i == 0)
        s = j == 0 ? 0 : 1;
      else if (j == 0)
        s = -1;
      else
        s = jac[(i - 1) * q + (j - 1)];
      h[i * order + j] = int8_t(i == j ? 1 : s);
    }
  return h;
}

std::vector<int8_t> respin::paleyIIHadamard(int64_t q) {
  if (q % 4 != 1)
    return {};
  std::vector<int8_t> jac = jacobsthalMatrix(q);
  if (jac.empty())
    return {};
  int64_t conf = q + 1, order = 2 * conf;
  std::vector<int8_t> h(order * order);
  for (int64_t i = 0; i < conf; ++i)
    for (int64_t j = 0; j < conf; ++j) {
      int c; // the symmetric conference matrix C = [[0, 1^T], [1, Q]]
      if (i == 0 || j == 0)
        c = i == j ? 0 : 1;
      else
        c = jac[(i - 1) * q + (j - 1)];
      // c = 0 (diagonal): [[1, -1], [-1, -1]]; else c * [[1, 1], [1, -1]].
      int block[2][2];
      if (c == 0) {
        block[0][0] = 1, block[0][1] = -1, block[1][0] = -1, block[1][1] = -1;
      } else {
        block[0][0] = c, block[0][1] = c, block[1][0] = c, block[1][1] = -c;
      }
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
          h[(2 * i + a) * order + 2 * j + b] = int8_t(block[a][b]);
    }
  return h;
}

//===----------------------------------------------------------------------===//
// Williamson
//===----------------------------------------------------------------------===//

// Williamson, "Hadamard's determinant theorem and the sum of four squares",
// Duke Math. J. 11 (1944): symmetric circulant +-1 matrices A, B, C, D of odd
// order n with A^2 + B^2 + C^2 + D^2 = 4n I give a Hadamard matrix of order 4n.
// Williamson matrices of orders 39 and 43 are known to exist (Djokovic 1993;
// Holzmann, Kharaghani and Tayfeh-Rezaie 2008). The first rows below were
// found by our own deterministic meet-in-the-middle search,
// test/unit/NumericsWilliamsonSearch.cpp (`respin-williamson-search 39` over
// all symmetric sequences; `respin-williamson-search 43 6` over sequences
// invariant under the multipliers {+-1, +-6, +-36}), and are verified by the
// unit tests (symmetry, A^2 + B^2 + C^2 + D^2 = 4n I, and H H^T = 4n I).
// '+' is +1 and '-' is -1; entry j is the (0, j) entry of the circulant.
static const char *const kWilliamson39[4] = {
    "+---+---+-++-++----++----++-++-+---+---",
    "++--+++-+--++-+----------+-++--+-+++--+",
    "+-++------++--+-+-++++-+-+--++------++-",
    "+---+--++++----+-+-++-+-+----++++--+---",
};
static const char *const kWilliamson43[4] = {
    "++---++++-+--+--++--------++--+--+-++++---+",
    "++-++++++----+-+--++-++-++--+-+----++++++-+",
    "+---++--++++-+-+++-++--++-+++-+-++++--++---",
    "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++",
};

std::vector<std::vector<int8_t>> respin::williamsonFirstRows(int64_t n) {
  const char *const *rows = n == 39   ? kWilliamson39
                            : n == 43 ? kWilliamson43
                                      : nullptr;
  if (!rows)
    return {};
  std::vector<std::vector<int8_t>> result;
  for (int r = 0; r < 4; ++r) {
    std::vector<int8_t> row;
    for (const char *c = rows[r]; *c; ++c)
      row.push_back(*c == '+' ? 1 : -1);
    assert(int64_t(row.size()) == n && "stored Williamson row has wrong length");
    result.push_back(std::move(row));
  }
  return result;
}

std::vector<int8_t>
respin::williamsonArray(const std::vector<std::vector<int8_t>> &firstRows) {
  if (firstRows.size() != 4 || firstRows[0].empty())
    return {};
  int64_t n = int64_t(firstRows[0].size());
  for (const std::vector<int8_t> &row : firstRows)
    if (int64_t(row.size()) != n)
      return {};
  // Block (r, c) of the array is sign * circulant(firstRows[which]).
  static const int which[4][4] = {
      {0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}, {3, 2, 1, 0}};
  static const int sign[4][4] = {
      {1, 1, 1, 1}, {-1, 1, -1, 1}, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
  int64_t order = 4 * n;
  std::vector<int8_t> h(order * order);
  for (int br = 0; br < 4; ++br)
    for (int bc = 0; bc < 4; ++bc) {
      const std::vector<int8_t> &row = firstRows[which[br][bc]];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          h[(br * n + i) * order + bc * n + j] =
              int8_t(sign[br][bc] * row[(j - i + n) % n]);
    }
  return h;
}
