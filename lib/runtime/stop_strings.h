// Stop strings over streamed text: finds the first one and holds back any tail that could still
// grow into one, so the caller never shows text that a stop string later cuts off.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace deepseek {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends `text` and returns the part now known to precede any stop string. Once a stop
  // string is found, stopped() is true and everything from it on is dropped.
  std::string Push(std::string_view text);
  // What is still held back, when the text ends for another reason.
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace deepseek
