#pragma once

#include <string_view>

namespace esr::cli {

/// Sends `state` ("READY=1", "STOPPING=1", ...) to the service manager through $NOTIFY_SOCKET, as
/// sd_notify(3) does; false (and nothing sent) outside systemd.
///
/// Not libsystemd: for this one datagram it would map six more shared libraries (libsystemd,
/// libgcrypt, libgpg-error, liblz4, libzstd, liblzma: about 1 MB of the idle RSS). systemd
/// documents the protocol as a stable interface and supports independent implementations of it.
bool notify_systemd(std::string_view state);

}  // namespace esr::cli
