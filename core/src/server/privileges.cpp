#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace passthru::core {

// libcap, not raw capset(2): it speaks every kernel's capability ABI version (capset's header and
// two 32-bit words per set are easy to get subtly wrong), reads capability names, and walks the
// bounding set up to what the running kernel has. Debian's libcap2 is a required package, so the
// dependency costs nothing on any Debian system. The user and group change goes through glibc's
// setgroups/setgid/setuid, which apply to every thread of the process.

namespace {

std::string failed(const char* step) { return std::string(step) + " failed: " + std::strerror(errno); }

/// getpwnam_r and getgrnam_r with a buffer that grows until the entry fits.
template <typename Entry, typename Lookup>
bool look_up(const std::string& name, Entry& entry, std::vector<char>& buffer, Lookup lookup) {
  buffer.resize(1024);
  for (;;) {
    Entry* found = nullptr;
    int rc = lookup(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    return rc == 0 && found != nullptr;
  }
}

}  // namespace

std::optional<Account> find_account(const std::string& user, const std::string& group, std::string& error) {
  passwd pw{};
  std::vector<char> pw_buffer;
  if (!look_up(user, pw, pw_buffer, getpwnam_r)) {
    error = "no such user '" + user + "' (look in /etc/passwd, or create it: adduser --system " + user + ")";
    return std::nullopt;
  }
  Account account{user, pw.pw_uid, pw.pw_gid};
  if (!group.empty()) {
    struct group gr{};
    std::vector<char> gr_buffer;
    if (!look_up(group, gr, gr_buffer, getgrnam_r)) {
      error = "no such group '" + group + "'";
      return std::nullopt;
    }
    account.gid = gr.gr_gid;
  }
  return account;
}

bool drop_privileges(const Account& account, bool keep_net_admin, std::string& error) {
  if (getuid() == account.uid && geteuid() == account.uid && getgid() == account.gid && getegid() == account.gid)
    return true;  // started as that account already (systemd's User=): nothing to give up
  if (geteuid() != 0) {
    error = "user = \"" + account.user + "\" needs passthru started as root (it runs as uid " +
            std::to_string(geteuid()) + "); leave user out to run as the current user";
    return false;
  }
  std::vector<cap_value_t> kept{CAP_NET_BIND_SERVICE};
  if (keep_net_admin) kept.push_back(CAP_NET_ADMIN);

  // The bounding set first, while CAP_SETPCAP is still ours: nothing dropped can come back.
  for (cap_value_t cap = 0; cap < static_cast<cap_value_t>(cap_max_bits()); ++cap) {
    bool keep = false;
    for (cap_value_t k : kept) keep = keep || k == cap;
    if (!keep && CAP_IS_SUPPORTED(cap) && cap_drop_bound(cap) != 0) {
      error = failed("dropping a capability from the bounding set");
      return false;
    }
  }
  // Keep the permitted set through setuid (the kernel clears it otherwise), then become the account.
  gid_t only = account.gid;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return error = failed("prctl(PR_SET_KEEPCAPS)"), false;
  if (setgroups(1, &only) != 0) return error = failed("setgroups"), false;
  if (setgid(account.gid) != 0) return error = failed("setgid"), false;
  if (setuid(account.uid) != 0) return error = failed("setuid"), false;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return error = failed("prctl(PR_SET_KEEPCAPS, 0)"), false;

  // Of every capability, only those kept, permitted and in effect.
  std::unique_ptr<_cap_struct, int (*)(void*)> caps(cap_init(), cap_free);
  if (!caps || cap_set_flag(caps.get(), CAP_PERMITTED, static_cast<int>(kept.size()), kept.data(), CAP_SET) != 0 ||
      cap_set_flag(caps.get(), CAP_EFFECTIVE, static_cast<int>(kept.size()), kept.data(), CAP_SET) != 0 ||
      cap_set_proc(caps.get()) != 0)
    return error = failed("setting the capabilities kept"), false;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return error = failed("prctl(PR_SET_NO_NEW_PRIVS)"), false;

  // Root must be gone for good: a process that could become it again has not dropped anything.
  if (setuid(0) == 0 || getuid() != account.uid || geteuid() != account.uid) {
    error = "still able to become root after dropping privileges";
    return false;
  }
  return true;
}

bool run_as_configured_user(const Config& config, bool keep_net_admin) {
  if (config.user.empty()) return true;
  std::string error;
  auto account = find_account(config.user, config.group, error);
  if (!account || !drop_privileges(*account, keep_net_admin, error)) {
    std::fprintf(stderr, "passthru: cannot run as user %s: %s\n", config.user.c_str(), error.c_str());
    return false;
  }
  spdlog::info("running as user {} (uid {}, gid {}) with CAP_NET_BIND_SERVICE{}", account->user, account->uid,
               account->gid, keep_net_admin ? " and CAP_NET_ADMIN" : "");
  return true;
}

}  // namespace passthru::core
