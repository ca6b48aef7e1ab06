# All third-party dependencies come from the system (Debian packages); nothing is downloaded.
find_package(Threads REQUIRED)
find_package(Eigen3 3.4 REQUIRED CONFIG)
find_package(hwy REQUIRED CONFIG)
find_package(nlohmann_json 3.10 REQUIRED CONFIG)
find_package(xxHash REQUIRED)   # cmake/FindxxHash.cmake: Debian ships only a pkg-config file
find_package(utf8proc REQUIRED) # cmake/Findutf8proc.cmake: likewise
find_package(PNG REQUIRED)      # CMake's own modules (libpng-dev, libjpeg62-turbo-dev)
find_package(JPEG REQUIRED)
if(DS_BUILD_TESTS)
  find_package(doctest REQUIRED CONFIG)
endif()
