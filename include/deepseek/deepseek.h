// Umbrella header of the deepseek C++ API.
#pragma once

#include "deepseek/chat.h"
#include "deepseek/config.h"
#include "deepseek/generation.h"
#include "deepseek/kv_cache.h"
#include "deepseek/model.h"
#include "deepseek/sampler.h"
#include "deepseek/session.h"
#include "deepseek/status.h"
#include "deepseek/tokenizer.h"
#include "deepseek/version.h"
