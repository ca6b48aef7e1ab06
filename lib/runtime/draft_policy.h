// When drafting with the MTP head pays. A drafting step costs one MTP draft and one two-token
// verify step (Td) and yields 1 + p tokens, p the share of drafts accepted; a plain step costs
// Tp for one token. Which is faster depends on the model (the head's share of the weights read
// per step), the machine and the text, so the generator measures both as it decodes and
// drafts while (1 + p) / Td > 1 / Tp. Greedy output is the same either way: the choice only
// changes the speed.
#pragma once

namespace deepseek {

class DraftPolicy {
 public:
  // Whether the next step that could draft should: while either kind of step has too few
  // measurements, it alternates to take them; later it drafts when drafting pays, and tries
  // the other kind every kRecheckEvery steps, as the text and the machine's load change.
  bool ShouldDraft();
  void RecordPlain(double seconds);
  void RecordDraft(double seconds, bool accepted);

  static constexpr int kWarmUp = 2;         // measurements of each kind before judging
  static constexpr int kRecheckEvery = 32;  // steps of one kind before one of the other
  static constexpr double kWeight = 0.25;   // of the newest measurement in the running averages

 private:
  double plain_seconds_ = 0, draft_seconds_ = 0, acceptance_ = 0;
  int plain_count_ = 0, draft_count_ = 0;
  bool last_drafted_ = false;
  int same_in_a_row_ = 0;  // decisions in a row that chose last_drafted_
};

}  // namespace deepseek
