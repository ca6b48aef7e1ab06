#include "model/state_codec.h"

#include <algorithm>
#include <vector>

#include "backends/kv_row_codec.h"
#include "core/error.h"

namespace deepseek::model {
namespace {

[[noreturn]] void Corrupt(const std::string& what, const std::string& fault) {
  Fail(StatusCode::kCorruptFile, what + ": " + fault);
}

void EncodeTable(const KvTable& table, backend::Stream& stream, format::ByteWriter& w) {
  w.U8(table.memory() != nullptr);
  if (!table.memory()) return;
  const backend::KvRowLayout& layout = table.memory()->pool(table.pool()).row;
  w.U8(static_cast<uint8_t>(layout.format));
  w.U32(static_cast<uint32_t>(layout.dim));
  w.U32(static_cast<uint32_t>(layout.rope_dim));
  w.U64(static_cast<uint64_t>(layout.bytes()));
  w.U64(static_cast<uint64_t>(table.rows()));
  std::vector<float> rows(static_cast<size_t>(table.rows() * layout.dim));
  table.Read(stream, 0, table.rows(), rows.data());
  std::vector<uint8_t> packed(static_cast<size_t>(layout.bytes()));
  for (int64_t r = 0; r < table.rows(); ++r) {  // packing what was unpacked gives the stored bytes
    backend::PackKvRow(layout, rows.data() + r * layout.dim, packed.data());
    w.Raw(packed.data(), packed.size());
  }
}

// Fills `table` (fresh, of the layout the model expects) with `rows` packed rows.
void DecodeTable(format::ByteReader& r, KvTable& table, int64_t rows, backend::Stream& stream, const std::string& name) {
  const uint8_t present = r.U8();
  if (present != (table.memory() != nullptr)) Corrupt(r.what(), name + (present ? " is not a cache of this layer" : " is missing"));
  if (!present) return;
  const backend::KvRowLayout& layout = table.memory()->pool(table.pool()).row;
  const uint8_t format = r.U8();
  const uint32_t dim = r.U32(), rope = r.U32();
  const uint64_t row_bytes = r.U64(), count = r.U64();
  if (format != static_cast<uint8_t>(layout.format) || dim != static_cast<uint32_t>(layout.dim) ||
      rope != static_cast<uint32_t>(layout.rope_dim) || row_bytes != static_cast<uint64_t>(layout.bytes())) {
    Corrupt(r.what(), name + " rows are in format " + std::to_string(format) + " of dim " + std::to_string(dim) +
                          ", this model's pool holds " + backend::KvRowFormatName(layout.format) + " rows of dim " +
                          std::to_string(layout.dim));
  }
  if (count != static_cast<uint64_t>(rows)) {
    Corrupt(r.what(), name + " holds " + std::to_string(count) + " rows where the positions call for " + std::to_string(rows));
  }
  const std::span<const uint8_t> packed = r.Raw(count * row_bytes);
  std::vector<float> values(static_cast<size_t>(rows * layout.dim));
  for (int64_t i = 0; i < rows; ++i) {
    backend::UnpackKvRow(layout, packed.data() + i * static_cast<int64_t>(row_bytes), values.data() + i * layout.dim);
  }
  table.Write(stream, 0, rows, values.data());
}

// The open blocks, which must have the sizes the layer's compressor gives them.
void DecodeCompressor(format::ByteReader& r, CompressorState& st) {
  const auto n = static_cast<int64_t>(st.kv.size());
  st.kv = r.Array<float>(n);
  st.score = r.Array<float>(n);
}

}  // namespace

void EncodeState(const SequenceState& state, backend::Stream& stream, format::SectionWriter& out) {
  const ModelConfig& c = state.config();
  format::ByteWriter seq;
  seq.I64(state.position());
  seq.I64(state.mtp_position);
  seq.U32(static_cast<uint32_t>(c.n_layers + c.n_mtp_layers));
  seq.Array<int32_t>(state.tokens);
  seq.Array<float>(state.mtp_pending_streams);
  out.Add(kSequenceSection, seq.Take());
  for (int i = 0; i < c.n_layers + c.n_mtp_layers; ++i) {
    const LayerState& l = state.layer(i);
    format::ByteWriter w;
    w.U32(static_cast<uint32_t>(i));
    for (const CompressorState* cs : {&l.compressor, &l.index_compressor}) {
      w.Array<float>(cs->kv);
      w.Array<float>(cs->score);
    }
    for (const KvTable* t : {&l.window, &l.compressed, &l.index_keys}) EncodeTable(*t, stream, w);
    out.Add(kLayerSection, w.Take());
  }
}

SequenceState DecodeState(std::span<const format::Section> sections, const ModelConfig& c,
                          std::shared_ptr<const KvPools> pools, backend::Stream& stream, const std::string& what) {
  std::vector<const format::Section*> seq, layers;
  for (const format::Section& s : sections) {
    if (s.tag == kSequenceSection) seq.push_back(&s);
    if (s.tag == kLayerSection) layers.push_back(&s);
  }
  const int n_layers = c.n_layers + c.n_mtp_layers;
  if (seq.size() != 1) Corrupt(what, std::to_string(seq.size()) + " sequence sections, one expected");
  if (layers.size() != static_cast<size_t>(n_layers)) {
    Corrupt(what, std::to_string(layers.size()) + " layer sections, this model has " + std::to_string(n_layers) + " layers");
  }
  SequenceState state(c, std::move(pools));
  format::ByteReader r(seq[0]->payload, what + ", sequence section");
  const int64_t position = r.I64(), mtp_position = r.I64();
  if (position < 0 || position > c.max_positions) Corrupt(r.what(), "position " + std::to_string(position) + " is out of range");
  if (mtp_position < 0 || mtp_position > position) {
    Corrupt(r.what(), "MTP position " + std::to_string(mtp_position) + " is not in [0, " + std::to_string(position) + "]");
  }
  if (r.U32() != static_cast<uint32_t>(n_layers)) Corrupt(r.what(), "layer count differs from the model's");
  state.tokens = r.Array<int32_t>(position);
  for (int32_t t : state.tokens) {
    if (t < 0 || t >= c.vocab_size) Corrupt(r.what(), "token id " + std::to_string(t) + " is outside the vocabulary");
  }
  // The MTP streams are kept only by sessions with MTP enabled: all of them, or none.
  state.mtp_pending_streams = r.Array<float>();
  const int64_t pending = (position - mtp_position) * c.hc_mult * c.dim;
  if (!state.mtp_pending_streams.empty() && state.mtp_pending_streams.size() != static_cast<size_t>(pending)) {
    Corrupt(r.what(), std::to_string(state.mtp_pending_streams.size()) + " MTP stream values where " +
                          std::to_string(pending) + " (or none) are expected");
  }
  r.ExpectEnd();
  state.Advance(position);
  state.mtp_position = mtp_position;

  for (int i = 0; i < n_layers; ++i) {
    format::ByteReader lr(layers[static_cast<size_t>(i)]->payload, what + ", layer section " + std::to_string(i));
    if (lr.U32() != static_cast<uint32_t>(i)) Corrupt(lr.what(), "layer sections are out of order");
    LayerState& l = state.layer(i);
    DecodeCompressor(lr, l.compressor);
    DecodeCompressor(lr, l.index_compressor);
    const int64_t pos = i < c.n_layers ? position : mtp_position;
    const int ratio = c.ratio(i);
    DecodeTable(lr, l.window, std::min<int64_t>(pos, c.window), stream, "the window");
    DecodeTable(lr, l.compressed, ratio ? pos / ratio : 0, stream, "the compressed cache");
    DecodeTable(lr, l.index_keys, ratio ? pos / ratio : 0, stream, "the indexer keys");
    lr.ExpectEnd();
  }
  return state;
}

}  // namespace deepseek::model
