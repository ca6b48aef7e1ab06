// The CPU KV memory against the contract in backends/backend.h: packed row sizes, lossless
// round trips of values on each format's grid, reference counts and copy-on-write, the budget
// (refusals change nothing), the file-backed slow tier, and pages taken and given back from
// many threads.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include <unistd.h>

#include "backends/backend.h"
#include "backends/kv_row_codec.h"
#include "core/error.h"
#include "core/numerics.h"
#include "core/thread_pool.h"

namespace deepseek::backend {
namespace {

constexpr KvRowLayout kLatent{KvRowFormat::kLatentFp8, 512, 64};
constexpr KvRowLayout kIndexKey{KvRowFormat::kMxfp4, 128, 0};
constexpr KvRowLayout kWindow41{KvRowFormat::kFp8Per32, 512, 0};
constexpr KvRowLayout kLatent41{KvRowFormat::kNvfp4, 512, 0};

// NVFP4 fake quantisation of a block of 16: scale e4m3(amax / 6), values e2m1(v / s) · s.
void FakeQuantNvfp4Block(float* v) {
  const float s = num::E4m3ToFloat(num::FloatToE4m3(num::BlockAmax(v, 16) / 6));
  for (int i = 0; i < 16; ++i) v[i] = s == 0 ? 0.0f : num::E2m1ToFloat(num::FloatToE2m1(v[i] / s)) * s;
}

// Rows as the reference stores them: FP8-rounded non-RoPE dims (blocks of 64) and bf16 RoPE
// dims for latents, FP4-rounded blocks of 32 for indexer keys; V4.1's FP8 blocks of 32 over
// all dims and NVFP4 blocks of 16; magnitudes over many octaves so scales, subnormal codes and
// zeros all occur.
std::vector<float> GridRows(const KvRowLayout& layout, int rows, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> octave(-30, 12);
  std::vector<float> v(static_cast<size_t>(rows * layout.dim));
  for (int r = 0; r < rows; ++r) {
    float* row = v.data() + r * layout.dim;
    const float magnitude = std::ldexp(1.0f, octave(rng));
    for (int i = 0; i < layout.dim; ++i) row[i] = i % 29 == 0 ? 0.0f : magnitude * normal(rng);
    if (layout.format == KvRowFormat::kMxfp4) {
      for (int b = 0; b < layout.dim; b += 32) num::FakeQuantFp4Block(row + b, 32);
    } else if (layout.format == KvRowFormat::kFp8Per32) {
      for (int b = 0; b < layout.dim; b += 32) num::FakeQuantFp8Block(row + b, 32);
    } else if (layout.format == KvRowFormat::kNvfp4) {
      for (int b = 0; b < layout.dim; b += 16) FakeQuantNvfp4Block(row + b);
    } else {
      for (int b = 0; b < layout.dim - layout.rope_dim; b += 64) num::FakeQuantFp8Block(row + b, 64);
      for (int i = layout.dim - layout.rope_dim; i < layout.dim; ++i) row[i] = num::RoundBf16(row[i]);
    }
  }
  return v;
}

TEST_CASE("KV row formats have the packed sizes of the spec") {
  CHECK(kLatent.bytes() == 584);  // 448 e4m3 + 128 bytes of bf16 + 7 scales + 1 pad
  CHECK(kIndexKey.bytes() == 68);  // 64 bytes of e2m1 + 4 scales
  CHECK(KvRowLayout{KvRowFormat::kLatentFp8, 256, 64}.bytes() == 328);  // 192 + 128 + 3, padded to 8
  CHECK(KvRowLayout{KvRowFormat::kF32, 37, 0}.bytes() == 148);
  CHECK(kWindow41.bytes() == 528);  // V4.1 window: 512 e4m3 + 16 ue8m0 scales
  CHECK(kLatent41.bytes() == 288);  // V4.1 latent: 256 bytes of e2m1 + 32 e4m3 scales
  CHECK_THROWS_AS(KvRowLayout({KvRowFormat::kNvfp4, 40, 0}).Validate(), Error);
  CHECK_THROWS_AS(KvRowLayout({KvRowFormat::kFp8Per32, 48, 0}).Validate(), Error);
  CHECK_THROWS_AS(KvRowLayout({KvRowFormat::kLatentFp8, 512, 40}).Validate(), Error);  // 472 not a multiple of 64
  CHECK_THROWS_AS(KvRowLayout({KvRowFormat::kMxfp4, 100, 0}).Validate(), Error);
  CHECK_THROWS_AS(KvRowLayout({KvRowFormat::kF32, 0, 0}).Validate(), Error);
}

TEST_CASE("packing values on the format's grid is lossless, bit for bit") {
  std::mt19937 rng(7);
  for (const KvRowLayout& layout : {kLatent, kIndexKey, kWindow41, kLatent41}) {
    CAPTURE(KvRowFormatName(layout.format));
    const std::vector<float> rows = GridRows(layout, 400, rng);
    std::vector<uint8_t> packed(static_cast<size_t>(layout.bytes()));
    std::vector<float> back(static_cast<size_t>(layout.dim));
    int differ = 0;
    for (int r = 0; r < 400; ++r) {
      PackKvRow(layout, rows.data() + r * layout.dim, packed.data());
      UnpackKvRow(layout, packed.data(), back.data());
      differ += std::memcmp(back.data(), rows.data() + r * layout.dim, back.size() * sizeof(float)) != 0;
    }
    CHECK(differ == 0);
  }
  // Values off the grid are rounded to it: the FP8 fake quantisation's result.
  std::vector<float> raw(512), want(512), back(512);
  for (int i = 0; i < 512; ++i) raw[static_cast<size_t>(i)] = want[static_cast<size_t>(i)] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  for (int b = 0; b < 448; b += 64) num::FakeQuantFp8Block(want.data() + b, 64);
  for (int i = 448; i < 512; ++i) want[static_cast<size_t>(i)] = num::RoundBf16(want[static_cast<size_t>(i)]);
  std::vector<uint8_t> packed(584);
  PackKvRow(kLatent, raw.data(), packed.data());
  UnpackKvRow(kLatent, packed.data(), back.data());
  CHECK(std::memcmp(back.data(), want.data(), 512 * sizeof(float)) == 0);
  // NVFP4 rounds with NVFP4's usual scale, e4m3(amax / 6); the result packs again unchanged.
  want = raw;
  for (int b = 0; b < 512; b += 16) FakeQuantNvfp4Block(want.data() + b);
  std::vector<uint8_t> nvfp4(288), again(288);
  PackKvRow(kLatent41, raw.data(), nvfp4.data());
  UnpackKvRow(kLatent41, nvfp4.data(), back.data());
  CHECK(std::memcmp(back.data(), want.data(), 512 * sizeof(float)) == 0);
  PackKvRow(kLatent41, back.data(), again.data());
  CHECK(again == nvfp4);
}

TEST_CASE("an NVFP4 block whose maximum is below 6 x its scale still packs losslessly") {
  // The reference's scale s = 0.25 (e4m3), values e2m1 multiples of it whose largest is 4 · s:
  // the usual scale e4m3(amax / 6) = 0.171875 would round 1.5 · s, and amax / 6 itself is no
  // e4m3 value; the packer finds s as amax / 4.
  std::vector<float> v(16);
  const float grid[16] = {0.5f, -1.0f, 1.5f, 2.0f, -3.0f, 0.0f, 1.0f, -0.5f, 4.0f, 2.0f, 1.5f, -2.0f, 0.5f, 0.0f, -1.5f, 1.0f};
  for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = grid[i] * 0.25f;
  std::vector<uint8_t> packed(16);
  std::vector<float> back(16);
  const KvRowLayout block{KvRowFormat::kNvfp4, 16, 0};
  PackKvRow(block, v.data(), packed.data());
  UnpackKvRow(block, packed.data(), back.data());
  CHECK(std::memcmp(back.data(), v.data(), 16 * sizeof(float)) == 0);
}

TEST_CASE("KvWrite and KvGather move rows through pages by block table") {
  ThreadPool pool(2);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  auto memory = Registry::Get().Cpu().CreateKvMemory({});
  const KvPoolId id = memory->AddPool({"latents", kLatent, 5});
  std::mt19937 rng(3);
  const std::vector<float> rows = GridRows(kLatent, 23, rng);
  // A block table in scrambled page order: rows follow the table, not the page ids.
  std::vector<KvPageId> pages;
  for (int p = 0; p < 5; ++p) pages.push_back(memory->Allocate(id));
  std::swap(pages[0], pages[3]);
  const KvRows table{memory.get(), id, pages, 23};
  stream->KvWrite(table, 0, 7, rows.data());
  stream->KvWrite(table, 7, 16, rows.data() + 7 * 512);
  std::vector<int64_t> order(23);
  for (int i = 0; i < 23; ++i) order[static_cast<size_t>(i)] = (i * 7) % 23;
  std::vector<float> out(23 * 512);
  stream->KvGather(table, order, out.data());
  for (int i = 0; i < 23; ++i) {
    CHECK(std::memcmp(out.data() + i * 512, rows.data() + order[static_cast<size_t>(i)] * 512, 512 * sizeof(float)) == 0);
  }
  // Outside the table, on a shared page, or in another memory: refused.
  CHECK_THROWS_AS(stream->KvWrite(table, 20, 6, rows.data()), Error);
  CHECK_THROWS_AS(stream->KvGather(table, std::vector<int64_t>{23}, out.data()), Error);
  memory->Retain(id, pages[1]);
  CHECK_THROWS_AS(stream->KvWrite(table, 5, 1, rows.data()), Error);
  memory->Release(id, pages[1]);
  const std::vector<KvPageId> no_such_page{999};
  const KvRows bogus{memory.get(), id, no_such_page, 1};
  CHECK_THROWS_AS(stream->KvGather(bogus, std::vector<int64_t>{0}, out.data()), Error);
  for (KvPageId p : pages) memory->Release(id, p);
}

TEST_CASE("pages are reference counted and duplicated for copy-on-write") {
  ThreadPool pool(1);
  const auto stream = Registry::Get().Cpu().CreateStream(pool);
  auto memory = Registry::Get().Cpu().CreateKvMemory({});
  const KvPoolId keys = memory->AddPool({"index_keys", kIndexKey, 4});
  std::mt19937 rng(5);
  const std::vector<float> rows = GridRows(kIndexKey, 4, rng);
  const KvPageId page = memory->Allocate(keys);
  stream->KvWrite({memory.get(), keys, std::vector<KvPageId>{page}, 0}, 0, 4, rows.data());
  CHECK_FALSE(memory->Shared(keys, page));
  memory->Retain(keys, page);
  CHECK(memory->Shared(keys, page));
  CHECK(memory->stats().pools[0].pages_shared == 1);
  const KvPageId copy = memory->Duplicate(keys, page);
  CHECK(copy != page);
  CHECK(memory->bytes_in_use() == 2 * 4 * 68);
  std::vector<float> out(4 * 128);
  stream->KvGather({memory.get(), keys, std::vector<KvPageId>{copy}, 4}, std::vector<int64_t>{0, 1, 2, 3}, out.data());
  CHECK(std::memcmp(out.data(), rows.data(), out.size() * sizeof(float)) == 0);
  memory->Release(keys, page);
  CHECK_FALSE(memory->Shared(keys, page));
  memory->Release(keys, page);
  memory->Release(keys, copy);
  CHECK(memory->bytes_in_use() == 0);
  CHECK(memory->stats().pools[0].pages_in_use == 0);
}

TEST_CASE("the budget refuses the page that would pass it, naming the pool, and changes nothing") {
  auto memory = Registry::Get().Cpu().CreateKvMemory({.budget_bytes = 3 * 584 * 4, .tier_dir = {}, .fast_bytes = 0});
  const KvPoolId id = memory->AddPool({"compressed_r4", kLatent, 4});
  std::vector<KvPageId> pages;
  for (int i = 0; i < 3; ++i) pages.push_back(memory->Allocate(id));
  try {
    memory->Allocate(id);
    FAIL("a fourth page was allocated");
  } catch (const Error& e) {
    CHECK(e.code() == StatusCode::kResourceExhausted);
    CHECK(std::string(e.what()).find("compressed_r4") != std::string::npos);
  }
  CHECK_THROWS_AS(memory->Duplicate(id, pages[0]), Error);
  CHECK(memory->bytes_in_use() == 3 * 584 * 4);
  memory->Release(id, pages[2]);
  pages[2] = memory->Allocate(id);  // room again once a page is given back
  for (KvPageId p : pages) memory->Release(id, p);
  CHECK(memory->bytes_in_use() == 0);
}

TEST_CASE("the slow tier holds selected pools and what passes fast_bytes, in files nobody else sees") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("deepseek-kv-tier-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    ThreadPool threads(2);
    const auto stream = Registry::Get().Cpu().CreateStream(threads);
    // One 2 MiB slab of fast memory: the hot pool's first slab is in RAM, its second in the tier.
    auto memory = Registry::Get().Cpu().CreateKvMemory({.budget_bytes = 0, .tier_dir = dir.string(), .fast_bytes = 2 << 20});
    const KvPoolId hot = memory->AddPool({"index_keys", kIndexKey, 64});
    const KvPoolId selected = memory->AddPool({"compressed_r4", kLatent, 64, KvPlacement::kSelected});
    const int64_t hot_pages_per_slab = (2 << 20) / (68 * 64);
    std::vector<KvPageId> hot_pages, selected_pages{memory->Allocate(selected)};
    for (int64_t i = 0; i <= hot_pages_per_slab; ++i) hot_pages.push_back(memory->Allocate(hot));
    const KvMemoryStats s = memory->stats();
    CHECK(s.pools[0].pages_tiered == hot_pages_per_slab);      // the second slab only
    CHECK(s.pools[1].pages_tiered == s.pools[1].pages_storage);  // all of it
    CHECK(s.bytes_tiered == static_cast<uint64_t>(hot_pages_per_slab * 68 * 64 + s.pools[1].pages_storage * 584 * 64));
    CHECK(fs::is_empty(dir));  // the tier's files are unlinked as they are made

    // Rows read back bit for bit from either tier, across the boundary between them.
    std::mt19937 rng(5);
    const std::vector<float> keys = GridRows(kIndexKey, 128, rng), latents = GridRows(kLatent, 64, rng);
    const std::vector<KvPageId> boundary{hot_pages[static_cast<size_t>(hot_pages_per_slab) - 1], hot_pages.back()};
    const KvRows key_rows{memory.get(), hot, boundary, 128}, latent_rows{memory.get(), selected, selected_pages, 64};
    stream->KvWrite(key_rows, 0, 128, keys.data());
    stream->KvWrite(latent_rows, 0, 64, latents.data());
    std::vector<int64_t> order(128);
    for (int i = 0; i < 128; ++i) order[static_cast<size_t>(i)] = i;
    std::vector<float> out(128 * 512);
    stream->KvGather(key_rows, order, out.data());
    CHECK(std::memcmp(out.data(), keys.data(), keys.size() * sizeof(float)) == 0);
    stream->KvGather(latent_rows, std::span(order).first(64), out.data());
    CHECK(std::memcmp(out.data(), latents.data(), latents.size() * sizeof(float)) == 0);
    for (KvPageId p : hot_pages) memory->Release(hot, p);
    memory->Release(selected, selected_pages[0]);
  }
  fs::remove_all(dir);
  // Options the memory cannot keep are refused when it is made.
  CHECK_THROWS_AS(Registry::Get().Cpu().CreateKvMemory({.budget_bytes = 0, .tier_dir = {}, .fast_bytes = 1 << 20}), Error);
  CHECK_THROWS_AS(Registry::Get().Cpu().CreateKvMemory({.budget_bytes = 0, .tier_dir = (dir / "missing").string(), .fast_bytes = 0}), Error);
}

TEST_CASE("pages taken, shared and given back from many threads keep the counts exact") {
  auto memory = Registry::Get().Cpu().CreateKvMemory({});
  const KvPoolId a = memory->AddPool({"a", kIndexKey, 64}), b = memory->AddPool({"b", kLatent, 8});
  const KvPageId common = memory->Allocate(b);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<std::pair<KvPoolId, KvPageId>> held;
      for (int i = 0; i < 3000; ++i) {
        if (held.size() > 50 || (!held.empty() && rng() % 3 == 0)) {
          memory->Release(held.back().first, held.back().second);
          held.pop_back();
        } else if (rng() % 4 == 0) {
          memory->Retain(b, common);
          held.emplace_back(b, common);
        } else {
          const KvPoolId pool = rng() % 2 ? a : b;
          held.emplace_back(pool, memory->Allocate(pool));
        }
      }
      for (auto [pool, page] : held) memory->Release(pool, page);
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(memory->bytes_in_use() == static_cast<uint64_t>(kLatent.bytes() * 8));  // `common` alone
  CHECK_FALSE(memory->Shared(b, common));
  memory->Release(b, common);
  CHECK(memory->bytes_in_use() == 0);
}

}  // namespace
}  // namespace deepseek::backend
