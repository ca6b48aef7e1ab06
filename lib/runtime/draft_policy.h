// When drafting with the MTP head pays. A drafting step costs one MTP draft and one two-token
// verify step (Cd) and yields 1 + p tokens, p the share of drafts accepted; a plain step costs
// Cp for one token. Which is cheaper depends on the model (the head's share of the weights read
// per step: the MTP head reads the whole LM head) and on the text, so the generator measures
// both as it decodes and drafts while (1 + p) / Cd > 1 / Cp.
//
// The costs are the weight bytes the steps read (Session::stats), the measure of a decode step
// bound by memory bandwidth. Unlike wall time they do not depend on the machine's load, so the
// decisions, and with them the tokens a seeded sampler draws, are the same on every run.
#pragma once

namespace deepseek {

class DraftPolicy {
 public:
  // Whether the next step that could draft should: while either kind of step has too few
  // measurements, it alternates to take them; later it drafts when drafting pays, and tries
  // the other kind every kRecheckEvery steps, as the text changes.
  bool ShouldDraft();
  void RecordPlain(double cost);
  void RecordDraft(double cost, bool accepted);

  static constexpr int kWarmUp = 2;         // measurements of each kind before judging
  static constexpr int kRecheckEvery = 32;  // steps of one kind before one of the other
  static constexpr double kWeight = 0.25;   // of the newest measurement in the running averages

 private:
  double plain_cost_ = 0, draft_cost_ = 0, acceptance_ = 0;
  int plain_count_ = 0, draft_count_ = 0;
  bool last_drafted_ = false;
  int same_in_a_row_ = 0;  // decisions in a row that chose last_drafted_
};

}  // namespace deepseek
