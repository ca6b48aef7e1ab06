// DraftPolicy: drafts while drafting is faster per token, measures both kinds of step first,
// and rechecks the other kind now and then.
#include "runtime/draft_policy.h"

#include <doctest/doctest.h>

namespace deepseek {
namespace {

// Runs `steps` decisions, each costing as given (a draft step yields 1 + accepted tokens).
struct Decoder {
  DraftPolicy policy;
  double plain_cost, draft_cost;
  bool accepted;
  int drafted = 0;
  void Run(int steps) {
    for (int i = 0; i < steps; ++i) {
      if (policy.ShouldDraft()) {
        policy.RecordDraft(draft_cost, accepted);
        ++drafted;
      } else {
        policy.RecordPlain(plain_cost);
      }
    }
  }
};

TEST_CASE("DraftPolicy measures both kinds of step before judging") {
  DraftPolicy policy;
  int drafts = 0;
  for (int i = 0; i < 2 * DraftPolicy::kWarmUp; ++i) {
    if (policy.ShouldDraft()) {
      policy.RecordDraft(1.0, true);
      ++drafts;
    } else {
      policy.RecordPlain(1.0);
    }
  }
  CHECK(drafts == DraftPolicy::kWarmUp);
}

TEST_CASE("DraftPolicy drafts when it pays and stops when it does not") {
  // A draft step costs 1.3 plain steps: worth it when every draft is accepted (2 tokens).
  Decoder pays{DraftPolicy{}, 0.1, 0.13, true};
  pays.Run(200);
  CHECK(pays.drafted > 180);
  CHECK(pays.drafted < 200);  // the plain kind is rechecked now and then
  // The same cost with every draft rejected: one token per 1.3 steps.
  Decoder loses{DraftPolicy{}, 0.1, 0.13, false};
  loses.Run(200);
  CHECK(loses.drafted < 20);
  CHECK(loses.drafted > DraftPolicy::kWarmUp);  // drafting is rechecked too
}

TEST_CASE("DraftPolicy follows a change of the acceptance rate") {
  Decoder d{DraftPolicy{}, 0.1, 0.15, true};
  d.Run(100);
  const int before = d.drafted;
  CHECK(before > 80);
  d.accepted = false;  // the text turns unpredictable
  d.Run(100);
  CHECK(d.drafted - before < 20);
}

}  // namespace
}  // namespace deepseek
