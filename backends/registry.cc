// The backend registry: the list of compiled-in devices, built once on first use.
#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"

namespace deepseek::backend {

Registry& Registry::Get() {
  static Registry registry;  // thread-safe initialisation; lives until exit
  return registry;
}

// The CPU device comes first, so Cpu() is devices_.front().
Registry::Registry() {
  owned_.push_back(std::make_unique<cpu::CpuDevice>());
  for (const auto& device : owned_) devices_.push_back(device.get());
}

Device* Registry::Find(const std::string& name) const {
  for (Device* device : devices_) {
    if (device->name() == name) return device;
  }
  return nullptr;
}

Device& Registry::Cpu() const { return *devices_.front(); }

}  // namespace deepseek::backend
