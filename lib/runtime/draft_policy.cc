#include "runtime/draft_policy.h"

namespace deepseek {
namespace {

double Update(double average, int count, double value) {
  return count == 0 ? value : average + DraftPolicy::kWeight * (value - average);
}

}  // namespace

bool DraftPolicy::ShouldDraft() {
  bool draft;
  if (draft_count_ < kWarmUp || plain_count_ < kWarmUp) {
    draft = draft_count_ <= plain_count_;
  } else {
    draft = (1 + acceptance_) * plain_cost_ > draft_cost_;
    if (draft == last_drafted_ && same_in_a_row_ >= kRecheckEvery) draft = !draft;
  }
  same_in_a_row_ = draft == last_drafted_ ? same_in_a_row_ + 1 : 1;
  last_drafted_ = draft;
  return draft;
}

void DraftPolicy::RecordPlain(double cost) {
  plain_cost_ = Update(plain_cost_, plain_count_, cost);
  ++plain_count_;
}

void DraftPolicy::RecordDraft(double cost, bool accepted) {
  draft_cost_ = Update(draft_cost_, draft_count_, cost);
  acceptance_ = Update(acceptance_, draft_count_, accepted ? 1.0 : 0.0);
  ++draft_count_;
}

}  // namespace deepseek
