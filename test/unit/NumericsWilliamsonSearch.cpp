//===- NumericsWilliamsonSearch.cpp - Search for Williamson matrices ------===//
//
// A small stand-alone program (not part of the library, not a gtest) that
// found the first rows stored in lib/Numerics/HadamardFactors.cpp for the
// Hadamard factors of order 156 = 4*39 and 172 = 4*43.
//
// Williamson (1944): if A, B, C, D are symmetric circulant +-1 matrices of odd
// order n with A^2 + B^2 + C^2 + D^2 = 4n I, the block array
//   [ A  B  C  D; -B  A -D  C; -C  D  A -B; -D -C  B  A ]
// is a Hadamard matrix of order 4n. In terms of first rows the condition is
// that the periodic autocorrelations (PAF) add up to zero at every nonzero
// shift; equivalently the power spectral densities (PSD, here the squared real
// eigenvalues lambda(k) of the circulants) add up to 4n at every frequency.
//
// Search (deterministic, exhaustive within the chosen space, so no seed):
//  1. Candidates: symmetric +-1 sequences with first entry +1 (negating a
//     matrix does not change its square) that are constant on the orbits of a
//     multiplier group G <= (Z/n)^* containing -1 (G = {+1, -1} by default,
//     i.e. all symmetric sequences; a larger G, as in Djokovic's searches,
//     shrinks the space). Each must pass PSD(k) <= 4n.
//  2. Classes: lambda(0) (the row sum) is an integer, and so is lambda(n/3)
//     when 3 | n. Every solution has sum of lambda^2 = 4n at those
//     frequencies, so we enumerate the multisets of four classes that satisfy
//     this and only pair candidates within them.
//  3. Meet in the middle per class multiset {c1 <= c2 <= c3 <= c4}: pairs from
//     c1 x c2 (passing PSD_A + PSD_B <= 4n) are indexed by a linear hash of
//     their summed PAF vector; pairs from c3 x c4 look up the negated hash.
//     Hits are verified exactly by squaring the circulants.
//
// Usage: respin-williamson-search <odd n> [multiplier ...]
//   respin-williamson-search 43 6    (G = <-1, 6>, order 6: 2^7 candidates)
//   respin-williamson-search 39      (all 2^19 symmetric candidates)
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

namespace {

using Sequence = std::vector<int>;

/// The multiplicative closure of `gens` (plus -1) in (Z/n)^*.
std::set<int> multiplierGroup(int n, const std::vector<int> &gens) {
  std::set<int> group = {1};
  std::vector<int> all = gens;
  all.push_back(n - 1);
  bool grew = true;
  while (grew) {
    grew = false;
    for (int g : std::set<int>(group))
      for (int h : all)
        if (group.insert(int((int64_t(g) * h) % n)).second)
          grew = true;
  }
  return group;
}

/// Orbits of `group` acting by multiplication on {1, ..., n-1}.
std::vector<std::vector<int>> orbits(int n, const std::set<int> &group) {
  std::vector<bool> seen(n, false);
  std::vector<std::vector<int>> result;
  for (int x = 1; x < n; ++x) {
    if (seen[x])
      continue;
    std::set<int> orbit;
    for (int g : group)
      orbit.insert(int((int64_t(g) * x) % n));
    for (int y : orbit)
      seen[y] = true;
    result.emplace_back(orbit.begin(), orbit.end());
  }
  return result;
}

/// splitmix64: fixed weights for the linear PAF hash.
uint64_t splitmix(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct Candidate {
  Sequence seq;
  std::vector<float> psd; // frequencies 1 .. (n-1)/2
  uint64_t pafHash = 0;   // sum over shifts s of PAF(s) * weight[s]
};

/// Exact check of A^2 + B^2 + C^2 + D^2 = 4n I via the circulant products.
bool verify(const std::vector<Sequence> &abcd) {
  int n = int(abcd[0].size());
  for (int s = 0; s < n; ++s) {
    int sum = 0;
    for (const Sequence &a : abcd) {
      if (a[s] != a[(n - s) % n])
        return false; // not symmetric
      for (int j = 0; j < n; ++j)
        sum += a[j] * a[(j + s) % n];
    }
    if (sum != (s == 0 ? 4 * n : 0))
      return false;
  }
  return true;
}

void print(const char *name, const Sequence &a) {
  std::printf("  %s: \"", name);
  for (int x : a)
    std::printf("%c", x > 0 ? '+' : '-');
  std::printf("\"\n");
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <odd n> [multiplier ...]\n", argv[0]);
    return 2;
  }
  int n = std::atoi(argv[1]);
  if (n < 3 || n % 2 == 0 || n > 200) {
    std::fprintf(stderr, "n must be odd and in [3, 200]\n");
    return 2;
  }
  std::vector<int> gens;
  for (int i = 2; i < argc; ++i)
    gens.push_back(std::atoi(argv[i]) % n);

  std::set<int> group = multiplierGroup(n, gens);
  std::vector<std::vector<int>> orbitList = orbits(n, group);
  std::printf("n = %d, |G| = %zu, %zu orbits\n", n, group.size(),
              orbitList.size());
  if (orbitList.size() > 24) {
    std::fprintf(stderr, "too many orbits for this exhaustive search\n");
    return 2;
  }

  const int half = (n - 1) / 2;
  const double bound = 4.0 * n + 1e-4;
  std::vector<uint64_t> weight(half);
  uint64_t state = 1;
  for (uint64_t &w : weight)
    w = splitmix(state) | 1;
  std::vector<std::vector<double>> cosine(half + 1, std::vector<double>(n));
  for (int k = 0; k <= half; ++k)
    for (int j = 0; j < n; ++j)
      cosine[k][j] = std::cos(2 * M_PI * double(int64_t(j) * k % n) / n);

  // Step 1 and 2: PSD-filtered candidates grouped by their integer eigenvalues
  // (row sum, and 2*lambda(n/3) when 3 | n).
  const int third = n % 3 == 0 ? n / 3 : 0;
  std::map<std::pair<int, int>, std::vector<Candidate>> classes;
  size_t numCandidates = 0;
  for (uint64_t bits = 0; bits < (uint64_t(1) << orbitList.size()); ++bits) {
    Candidate cand;
    cand.seq.assign(n, 1);
    for (size_t o = 0; o < orbitList.size(); ++o)
      if (bits >> o & 1)
        for (int x : orbitList[o])
          cand.seq[x] = -1;
    bool ok = true;
    for (int k = 1; k <= half && ok; ++k) {
      double lambda = 0;
      for (int j = 0; j < n; ++j)
        lambda += cand.seq[j] * cosine[k][j];
      ok = lambda * lambda <= bound;
      cand.psd.push_back(float(lambda * lambda));
    }
    int rowSum = 0, twiceThird = 0;
    for (int j = 0; j < n; ++j) {
      rowSum += cand.seq[j];
      twiceThird += third ? cand.seq[j] * (j % 3 == 0 ? 2 : -1) : 0;
    }
    if (!ok || rowSum * rowSum > 4 * n)
      continue;
    for (int s = 1; s <= half; ++s) {
      int paf = 0;
      for (int j = 0; j < n; ++j)
        paf += cand.seq[j] * cand.seq[(j + s) % n];
      cand.pafHash += uint64_t(int64_t(paf)) * weight[s - 1];
    }
    classes[{rowSum, twiceThird}].push_back(std::move(cand));
    ++numCandidates;
  }
  std::printf("%zu candidates in %zu classes pass the PSD filter\n",
              numCandidates, classes.size());

  std::vector<std::pair<int, int>> keys;
  for (const auto &entry : classes)
    keys.push_back(entry.first);
  auto pairOk = [&](const Candidate &a, const Candidate &b) {
    for (int k = 0; k < half; ++k)
      if (a.psd[k] + b.psd[k] > bound)
        return false;
    return true;
  };

  // Step 3: every class multiset c1 <= c2 <= c3 <= c4 whose integer
  // eigenvalues square-sum to 4n (16n for the doubled lambda(n/3)).
  const int thirdTarget = third ? 16 * n : 0;
  size_t numKeys = keys.size();
  for (size_t i1 = 0; i1 < numKeys; ++i1)
    for (size_t i2 = i1; i2 < numKeys; ++i2)
      for (size_t i3 = i2; i3 < numKeys; ++i3)
        for (size_t i4 = i3; i4 < numKeys; ++i4) {
          const size_t idx[4] = {i1, i2, i3, i4};
          int rows = 0, thirds = 0;
          for (size_t i : idx) {
            rows += keys[i].first * keys[i].first;
            thirds += keys[i].second * keys[i].second;
          }
          if (rows != 4 * n || thirds != thirdTarget)
            continue;
          const auto &c1 = classes[keys[i1]], &c2 = classes[keys[i2]];
          const auto &c3 = classes[keys[i3]], &c4 = classes[keys[i4]];
          std::printf("classes (%d,%d) (%d,%d) (%d,%d) (%d,%d): %zu x %zu | "
                      "%zu x %zu\n",
                      keys[i1].first, keys[i1].second, keys[i2].first,
                      keys[i2].second, keys[i3].first, keys[i3].second,
                      keys[i4].first, keys[i4].second, c1.size(), c2.size(),
                      c3.size(), c4.size());
          std::fflush(stdout);
          struct Entry {
            uint64_t hash;
            uint32_t a, b;
            bool operator<(const Entry &o) const { return hash < o.hash; }
          };
          std::vector<Entry> left;
          for (size_t a = 0; a < c1.size(); ++a)
            for (size_t b = (i1 == i2 ? a : 0); b < c2.size(); ++b)
              if (pairOk(c1[a], c2[b]))
                left.push_back({c1[a].pafHash + c2[b].pafHash, uint32_t(a),
                                uint32_t(b)});
          std::sort(left.begin(), left.end());
          for (size_t c = 0; c < c3.size(); ++c)
            for (size_t d = (i3 == i4 ? c : 0); d < c4.size(); ++d) {
              if (!pairOk(c3[c], c4[d]))
                continue;
              Entry probe{0 - (c3[c].pafHash + c4[d].pafHash), 0, 0};
              auto range = std::equal_range(left.begin(), left.end(), probe);
              for (auto it = range.first; it != range.second; ++it) {
                std::vector<Sequence> abcd = {c1[it->a].seq, c2[it->b].seq,
                                              c3[c].seq, c4[d].seq};
                if (!verify(abcd))
                  continue; // hash collision
                std::printf("Williamson matrices of order %d (first rows):\n",
                            n);
                print("A", abcd[0]);
                print("B", abcd[1]);
                print("C", abcd[2]);
                print("D", abcd[3]);
                return 0;
              }
            }
        }
  std::printf("no solution in this search space\n");
  return 1;
}
