// The pictures the server tests send: the V4.1 golden case's PNG (from shared/) and a 4 x 3
// JPEG small enough to write here as its data URL (made with libjpeg-turbo, quality 90).
#pragma once

#include <string>

#include "support/shared_data.h"

namespace deepseek::server::testing {

inline std::string GoldenPng() {
  return deepseek::testing::ReadFile(deepseek::testing::SharedDir() + "/golden/v41/v41_image/image.png");
}

inline constexpr const char* kJpegDataUrl =
    "data:image/jpeg;base64,"
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMU"
    "FRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU"
    "FBQUFBQUFBT/wAARCAADAAQDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAf/xAAdEAABAwUBAAAAAAAAAAAAAAAAAQQH"
    "BhYmUWGS/8QAFAEBAAAAAAAAAAAAAAAAAAAABv/EACIRAAECAwkAAAAAAAAAAAAAAAIEBQABQhMVIyQxMlFx0f/aAAwDAQACEQMR"
    "AD8AqMewXQNrtsXYeV0nQAI1Tittzxz1nVP2DbC7OF1Jswewai47j//Z";

}  // namespace deepseek::server::testing
