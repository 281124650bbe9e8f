// Giving up root once passthru holds what needs it: the config's `user` and `group`. After the
// listeners are bound and the plugins loaded as root, passthru becomes that user and group and
// keeps one capability, CAP_NET_BIND_SERVICE, so that a reload can still open a port below 1024
// (and CAP_NET_ADMIN too when asked, which transparent listeners need). It does not read the
// config, bind or load anything: it only looks accounts up and changes the process's credentials.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "../config/config.hpp"

namespace passthru::core {

/// A user and group that passthru can become.
struct Account {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// Looks `user` up, and `group` (empty: the user's own group). nullopt and `error` set to what
/// is wrong ("no such user 'x'") if either does not exist.
std::optional<Account> find_account(const std::string& user, const std::string& group, std::string& error);

/// Becomes `account`: only its group (no supplementary groups), its user, and of every capability
/// only CAP_NET_BIND_SERVICE, plus CAP_NET_ADMIN if `keep_net_admin`; the bounding set shrinks to
/// the same, and no_new_privs is set. Call it before starting any thread. Already running as
/// `account` (as under systemd's User=), it changes nothing. False and `error` set if passthru
/// is neither root nor that account, or a step failed; then nothing else should start.
bool drop_privileges(const Account& account, bool keep_net_admin, std::string& error);

/// The one place passthru gives up root: becomes `config`'s user and group if it names them
/// (nothing to do otherwise), keeping CAP_NET_ADMIN as well if `keep_net_admin`. Says on stderr
/// why it could not, and returns false: passthru must not start then.
bool run_as_configured_user(const Config& config, bool keep_net_admin);

}  // namespace passthru::core
