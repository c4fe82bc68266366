# Run after a Boost.Test binary is built (see esr_discover_suites in tests/CMakeLists.txt): one
# CTest entry per top-level suite, as gtest_discover_tests does for GoogleTest, so a failure is
# named by its suite and ctest can spread them. Inputs: BINARY, PREFIX, OUTPUT, PROPERTIES (a
# set_tests_properties argument list, may be empty).
execute_process(COMMAND "${BINARY}" --list_content
                OUTPUT_VARIABLE listing ERROR_VARIABLE listing RESULT_VARIABLE status TIMEOUT 120)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${BINARY} --list_content failed (${status}):\n${listing}")
endif()
string(REPLACE "\n" ";" lines "${listing}")
set(script "")
foreach(line IN LISTS lines)
  # Top-level suites start at the first column; their tests are indented.
  if(line MATCHES "^[ ]" OR line STREQUAL "")
    continue()  # a test inside a suite
  elseif(line MATCHES "^([A-Za-z_][A-Za-z0-9_]*)\\*?$")
    set(suite "${CMAKE_MATCH_1}")
    string(APPEND script "add_test(\"${PREFIX}.${suite}\" \"${BINARY}\" \"--run_test=${suite}\" \"--log_level=test_suite\")\n")
    if(PROPERTIES)
      string(APPEND script "set_tests_properties(\"${PREFIX}.${suite}\" PROPERTIES ${PROPERTIES})\n")
    endif()
  else()
    # A suite this script does not understand would otherwise drop out of the run unnoticed.
    message(FATAL_ERROR "${BINARY} --list_content: cannot read the line '${line}'")
  endif()
endforeach()
if(script STREQUAL "")
  message(FATAL_ERROR "no test suite found in ${BINARY}:\n${listing}")
endif()
file(WRITE "${OUTPUT}" "${script}")
