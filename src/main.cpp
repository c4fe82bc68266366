#include "esr/cli.hpp"

int main(int argc, char** argv) { return esr::cli::run(argc, argv); }
