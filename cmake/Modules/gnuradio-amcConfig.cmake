find_package(PkgConfig)

PKG_CHECK_MODULES(PC_GR_AMC gnuradio-amc)

FIND_PATH(
    GR_AMC_INCLUDE_DIRS
    NAMES gnuradio/amc/api.h
    HINTS $ENV{AMC_DIR}/include
        ${PC_AMC_INCLUDEDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/include
          /usr/local/include
          /usr/include
)

FIND_LIBRARY(
    GR_AMC_LIBRARIES
    NAMES gnuradio-amc
    HINTS $ENV{AMC_DIR}/lib
        ${PC_AMC_LIBDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/lib
          ${CMAKE_INSTALL_PREFIX}/lib64
          /usr/local/lib
          /usr/local/lib64
          /usr/lib
          /usr/lib64
          )

include("${CMAKE_CURRENT_LIST_DIR}/gnuradio-amcTarget.cmake")

INCLUDE(FindPackageHandleStandardArgs)
FIND_PACKAGE_HANDLE_STANDARD_ARGS(GR_AMC DEFAULT_MSG GR_AMC_LIBRARIES GR_AMC_INCLUDE_DIRS)
MARK_AS_ADVANCED(GR_AMC_LIBRARIES GR_AMC_INCLUDE_DIRS)
