// Umbrella header of the deepseek C++ API.
#pragma once

#include "deepseek/config.h"
#include "deepseek/model.h"
#include "deepseek/sampler.h"
#include "deepseek/session.h"
#include "deepseek/status.h"
#include "deepseek/version.h"
