#!/usr/bin/env python3
"""Streams a DeepSeek V4 chat reply through the C ABI (libdeepseek_c) with ctypes only.

usage: deepseek_chat.py MODEL_DIR [--lib PATH] [--mode fast|expert|expert-max]
                        [--max-tokens N] [PROMPT]
The library is --lib, else $DEEPSEEK_C_LIB, else libdeepseek_c.so.1 on the loader's path.
"""
import argparse
import ctypes
import os
import sys

# Mirrors of the deepseek.h structs this program uses (field for field; ABI 1.x).
c_size, c_char_p, c_void_p = ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p
i32, i64 = ctypes.c_int32, ctypes.c_int64


class ChatMessage(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("role", c_char_p), ("content", c_char_p),
                ("reasoning_content", c_char_p), ("tool_calls", c_void_p), ("n_tool_calls", c_size),
                ("tool_call_id", c_char_p), ("tools_json", c_char_p),
                ("response_format_json", c_char_p), ("task", c_char_p), ("wo_eos", i32),
                ("reserved0", i32)]


class ChatFormatParams(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("mode", ctypes.c_int), ("drop_thinking", i32),
                ("add_bos", i32), ("reserved0", i32)]


class GenerationParams(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("sampling", c_void_p), ("max_tokens", i64),
                ("stop_strings", c_void_p), ("n_stop_strings", c_size), ("stop_tokens", c_void_p),
                ("n_stop_tokens", c_size), ("ignore_eos", i32), ("reserved0", i32)]


class GenerationStats(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("prompt_tokens", i64), ("reused_tokens", i64),
                ("generated_tokens", i64), ("prefill_seconds", ctypes.c_double),
                ("decode_seconds", ctypes.c_double), ("prefill_tokens_per_second", ctypes.c_double),
                ("decode_tokens_per_second", ctypes.c_double)]


STREAM_FN = ctypes.CFUNCTYPE(ctypes.c_int, i32, ctypes.POINTER(ctypes.c_char), c_size, ctypes.c_int, c_void_p)
CHANNELS = ("reasoning", "content", "tool calls")


class DeepSeekError(RuntimeError):
    pass


def load_library(path):
    lib = ctypes.CDLL(path)
    P = ctypes.POINTER
    sigs = {
        "ds_version_string": (c_char_p, []),
        "ds_abi_version": (ctypes.c_uint32, []),
        "ds_status_string": (c_char_p, [ctypes.c_int]),
        "ds_last_error": (c_char_p, []),
        "ds_model_load": (ctypes.c_int, [c_char_p, c_void_p, P(c_void_p)]),
        "ds_model_destroy": (None, [c_void_p]),
        "ds_tokenizer_load": (ctypes.c_int, [c_char_p, P(c_void_p)]),
        "ds_tokenizer_destroy": (None, [c_void_p]),
        "ds_generator_create": (ctypes.c_int, [c_void_p, c_void_p, c_void_p, P(c_void_p)]),
        "ds_generator_destroy": (None, [c_void_p]),
        "ds_chat_mode_parse": (ctypes.c_int, [c_char_p, P(ctypes.c_int)]),
        "ds_chat_message_init": (None, [P(ChatMessage)]),
        "ds_chat_format_params_init": (None, [P(ChatFormatParams)]),
        "ds_generation_params_init": (None, [P(GenerationParams)]),
        "ds_generator_chat": (ctypes.c_int, [c_void_p, P(ChatMessage), c_size, P(ChatFormatParams),
                                             P(GenerationParams), STREAM_FN, c_void_p, P(c_void_p)]),
        "ds_reply_destroy": (None, [c_void_p]),
        "ds_reply_finish_reason": (ctypes.c_int, [c_void_p]),
        "ds_finish_reason_name": (c_char_p, [ctypes.c_int]),
        "ds_reply_stats": (ctypes.c_int, [c_void_p, P(GenerationStats)]),
        "ds_reply_tool_call_count": (c_size, [c_void_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    # A library of another ABI major could read these structs differently.
    if lib.ds_abi_version() // 1000 != 1:
        raise DeepSeekError(f"{path} has ABI {lib.ds_abi_version()}, this program speaks 1.x")
    return lib


def check(lib, status, what):
    if status != 0:
        raise DeepSeekError(f"{what}: {lib.ds_status_string(status).decode()}: {lib.ds_last_error().decode()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("prompt", nargs="?", default="Write a haiku about the sea.")
    ap.add_argument("--lib", default=os.environ.get("DEEPSEEK_C_LIB", "libdeepseek_c.so.1"))
    ap.add_argument("--mode", default="expert")
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_intermixed_args()

    lib = load_library(args.lib)
    model, tokenizer, generator, reply = c_void_p(), c_void_p(), c_void_p(), c_void_p()
    try:
        check(lib, lib.ds_model_load(args.model_dir.encode(), None, ctypes.byref(model)), "loading the model")
        check(lib, lib.ds_tokenizer_load(args.model_dir.encode(), ctypes.byref(tokenizer)), "loading the tokenizer")
        check(lib, lib.ds_generator_create(model, tokenizer, None, ctypes.byref(generator)), "creating the generator")

        fmt = ChatFormatParams()
        lib.ds_chat_format_params_init(ctypes.byref(fmt))
        mode = ctypes.c_int()
        check(lib, lib.ds_chat_mode_parse(args.mode.encode(), ctypes.byref(mode)), "mode")
        fmt.mode = mode.value
        message = ChatMessage()
        lib.ds_chat_message_init(ctypes.byref(message))
        message.role, message.content = b"user", args.prompt.encode()
        params = GenerationParams()
        lib.ds_generation_params_init(ctypes.byref(params))
        params.max_tokens = args.max_tokens

        current = [None]

        def on_piece(token, text, length, channel, user_data):
            if length:
                if current[0] != channel:
                    print(f"\n[{CHANNELS[channel]}]", flush=True)
                    current[0] = channel
                # Bytes are whole UTF-8 characters; the reasoning is dimmed on a terminal.
                piece = ctypes.string_at(text, length).decode("utf-8", "replace")
                dim = channel == 0 and sys.stdout.isatty()
                sys.stdout.write(f"\x1b[2m{piece}\x1b[0m" if dim else piece)
                sys.stdout.flush()
            return 0  # nonzero would stop the generation

        callback = STREAM_FN(on_piece)  # kept referenced for the duration of the call
        check(lib, lib.ds_generator_chat(generator, ctypes.byref(message), 1, ctypes.byref(fmt),
                                         ctypes.byref(params), callback, None, ctypes.byref(reply)),
              "generating")
        stats = GenerationStats(struct_size=ctypes.sizeof(GenerationStats))
        check(lib, lib.ds_reply_stats(reply, ctypes.byref(stats)), "stats")
        finish = lib.ds_finish_reason_name(lib.ds_reply_finish_reason(reply)).decode()
        print(f"\n\n[deepseek {lib.ds_version_string().decode()}] mode {args.mode}, finish {finish}, "
              f"{lib.ds_reply_tool_call_count(reply)} tool call(s)")
        print(f"prompt {stats.prompt_tokens} tokens ({stats.reused_tokens} reused): "
              f"{stats.prefill_seconds:.3f} s, {stats.prefill_tokens_per_second:.1f} tok/s")
        print(f"generated {stats.generated_tokens} tokens: {stats.decode_seconds:.3f} s, "
              f"{stats.decode_tokens_per_second:.1f} tok/s")
    except DeepSeekError as e:
        print(f"deepseek_chat.py: {e}", file=sys.stderr)
        return 1
    finally:
        lib.ds_reply_destroy(reply)
        lib.ds_generator_destroy(generator)
        lib.ds_tokenizer_destroy(tokenizer)
        lib.ds_model_destroy(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
