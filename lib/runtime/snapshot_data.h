// What a SessionSnapshot holds, for the runtime files that make or read snapshots (sessions,
// the KV cache's prefix cache and its files).
#pragma once

#include <memory>

#include "deepseek/session.h"
#include "runtime/sequence_file.h"

namespace deepseek {

struct SessionSnapshot::Data {
  std::shared_ptr<const Model> model;  // keeps the config the state points to alive
  SequenceRecord record;
};

struct SnapshotAccess {
  static SessionSnapshot Make(std::shared_ptr<const Model> model, SequenceRecord record) {
    SessionSnapshot s;
    s.data_ = std::make_shared<const SessionSnapshot::Data>(SessionSnapshot::Data{std::move(model), std::move(record)});
    return s;
  }
  static const SessionSnapshot::Data* Get(const SessionSnapshot& s) { return s.data_.get(); }
};

}  // namespace deepseek
