#pragma once

namespace esr::cli {

/// The whole command line: subcommand dispatch, configuration, exit status.
/// 0 success, 1 runtime failure, 2 usage or configuration error.
int run(int argc, char** argv);

}  // namespace esr::cli
