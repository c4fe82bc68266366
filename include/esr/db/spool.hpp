#pragma once

// The spool moved to esr::spool; this keeps the old name working for code not yet moved over.
#include "esr/spool/spool.hpp"

namespace esr::db {
using esr::spool::Spool;
}
