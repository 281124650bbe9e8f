#include "exposition.hpp"

#include <cstdio>
#include <unordered_map>
#include <utility>

#include "../router/detection.hpp"
#include "passthru/sdk/version.hpp"
#include "passthru_version.hpp"  // generated: kPassthruVersion

namespace passthru::core {

namespace {

/// A label value with backslash, double quote and line feed escaped, as the format asks.
std::string escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

using Labels = std::vector<std::pair<const char*, std::string>>;

/// The families written, each with its samples summed over the workers, in first-seen order.
class Families {
 public:
  void family(const char* name, const char* type, const char* help) {
    current_ = &families_.emplace_back(Family{name, type, help, {}, {}});
  }
  /// Adds `value` to the sample `name` + `suffix` with `labels` of the current family.
  void add(const char* suffix, const Labels& labels, double value) {
    std::string key = current_->name + suffix;
    if (!labels.empty()) {
      key += '{';
      for (std::size_t i = 0; i < labels.size(); ++i)
        key += (i ? ",": "") + std::string(labels[i].first) + "=\"" + escaped(labels[i].second) + '"';
      key += '}';
    }
    auto [it, fresh] = current_->index.emplace(key, current_->samples.size());
    if (fresh) current_->samples.emplace_back(key, 0.0);
    current_->samples[it->second].second += value;
  }
  std::string text() const {
    std::string out;
    char number[64];
    for (const Family& f : families_) {
      out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
      for (const auto& [key, value] : f.samples) {
        std::snprintf(number, sizeof number, "%.17g", value);
        out += key + " " + number + "\n";
      }
    }
    return out;
  }

 private:
  struct Family {
    std::string name, type, help;
    std::vector<std::pair<std::string, double>> samples;
    std::unordered_map<std::string, std::size_t> index;
  };
  std::vector<Family> families_;
  Family* current_ = nullptr;
};

double count(const Counter& c) { return static_cast<double>(c.get()); }

/// Opened minus closed, the closed read first: a count read later is never smaller, so the
/// difference is never below zero however the worker moves meanwhile.
double open_now(const Counter& opened, const Counter& closed) {
  double closed_count = count(closed);
  return count(opened) - closed_count;
}

void add_histogram(Families& out, const std::string& listener, const Histogram& h) {
  double cumulative = 0;
  char bound[32];
  for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
    cumulative += static_cast<double>(h.bucket(i));
    std::snprintf(bound, sizeof bound, "%g", Histogram::kBounds[i]);
    out.add("_bucket", {{"listener", listener}, {"le", bound}}, cumulative);
  }
  out.add("_bucket", {{"listener", listener}, {"le", "+Inf"}}, static_cast<double>(h.count()));
  out.add("_sum", {{"listener", listener}}, h.sum());
  out.add("_count", {{"listener", listener}}, static_cast<double>(h.count()));
}

/// Every worker's listener counts, one family at a time (a family's samples stay together).
template <typename Each>
void per_listener(const std::vector<const WorkerMetrics*>& workers, Each each) {
  for (const WorkerMetrics* worker : workers)
    worker->visit([&](const std::string& name, const ListenerCounters& c) { each(name, c); },
                  [](const RuleLabels&, const RuleCounters&) {});
}

template <typename Each>
void per_rule(const std::vector<const WorkerMetrics*>& workers, Each each) {
  for (const WorkerMetrics* worker : workers)
    worker->visit([](const std::string&, const ListenerCounters&) {},
                  [&](const RuleLabels& labels, const RuleCounters& c) { each(labels, c); });
}

Labels rule_labels(const RuleLabels& r) {
  return {{"listener", std::get<0>(r)}, {"protocol", std::get<1>(r)}, {"rule", std::get<2>(r)},
          {"action", std::get<3>(r)}};
}

Labels backend_labels(const BackendLabels& b) {
  return {{"listener", std::get<0>(b)}, {"protocol", std::get<1>(b)}, {"rule", std::get<2>(b)},
          {"backend", std::get<3>(b)}};
}

}  // namespace

std::string render_metrics(const std::vector<const WorkerMetrics*>& workers, const ProcessMetrics& process) {
  Families out;
  out.family("passthru_build_info", "gauge", "Always 1: the version of passthru and of its plugin SDK ABI.");
  out.add("", {{"version", kPassthruVersion}, {"sdk_abi", std::to_string(passthru::sdk::kAbiMajor)}}, 1);
  out.family("passthru_plugin_info", "gauge", "Always 1: a plugin the running config loaded, with its file.");
  for (const Config::Plugin& plugin : process.plugins())
    out.add("", {{"protocol", plugin.protocol}, {"path", plugin.path}, {"sdk_abi", std::to_string(passthru::sdk::kAbiMajor)}}, 1);
  out.family("passthru_ready", "gauge", "1 while accepting connections, 0 while draining after a stop signal.");
  out.add("", {}, process.ready ? 1 : 0);
  out.family("passthru_reloads_total", "counter", "Config reloads, by result.");
  out.add("", {{"result", "success"}}, static_cast<double>(process.reloads_succeeded.load()));
  out.add("", {{"result", "failure"}}, static_cast<double>(process.reloads_failed.load()));
  out.family("passthru_config_last_reload_successful", "gauge", "1 if the last reload worked (or none was tried).");
  out.add("", {}, process.last_reload_ok ? 1 : 0);
  out.family("passthru_config_loaded_timestamp_seconds", "gauge",
             "When the running config was loaded: the start, or the last reload that worked.");
  out.add("", {}, process.config_loaded_at.load());

  out.family("passthru_connections_accepted_total", "counter", "Connections accepted and admitted, per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) { out.add("", {{"listener", l}}, count(c.accepted)); });
  out.family("passthru_connections_active", "gauge", "Connections open now, per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) {
    out.add("", {{"listener", l}}, open_now(c.accepted, c.closed));
  });
  out.family("passthru_connections_refused_total", "counter",
             "Connections refused (reset at once) by a limit, or left queued for want of a descriptor, per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) {
    for (std::size_t i = 0; i < kRefusalLabels.size(); ++i)
      out.add("", {{"listener", l}, {"limit", kRefusalLabels[i]}}, count(c.refused[i]));
  });
  out.family("passthru_decisions_total", "counter",
             "Connections and tunnel streams routed, per listener, protocol table, rule and action "
             "(protocol \"-\": the listener's CATCHALL).");
  per_rule(workers, [&](const RuleLabels& r, const RuleCounters& c) { out.add("", rule_labels(r), count(c.decisions)); });
  out.family("passthru_fallbacks_total", "counter", "Decisions left to the listener's CATCHALL, per reason.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) {
    for (std::size_t i = 0; i < kFallbackReasons; ++i)
      out.add("", {{"listener", l}, {"reason", to_token(static_cast<FallbackReason>(i))}}, count(c.fallbacks[i]));
  });
  out.family("passthru_connection_ends_total", "counter", "Connections ended, per listener and end= token.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) {
    for (std::size_t i = 0; i < kCloseReasons; ++i)
      if (c.ends[i].get()) out.add("", {{"listener", l}, {"end", token(static_cast<CloseReason>(i))}}, count(c.ends[i]));
  });
  out.family("passthru_bytes_total", "counter",
             "Bytes relayed, per listener, protocol table, rule and direction (up: client to backend), "
             "counted when the connection or stream ends.");
  per_rule(workers, [&](const RuleLabels& r, const RuleCounters& c) {
    Labels labels = rule_labels(r);
    labels.pop_back();  // the action says nothing more of bytes
    labels.emplace_back("direction", "up");
    out.add("", labels, count(c.bytes_up));
    labels.back().second = "down";
    out.add("", labels, count(c.bytes_down));
  });
  out.family("passthru_backend_connections_total", "counter",
             "Connections a backend of a rule with several accepted, per listener, protocol table, rule and backend.");
  for (const WorkerMetrics* worker : workers)
    worker->visit_backends([&](const BackendLabels& b, const BackendCounters& c) { out.add("", backend_labels(b), count(c.connections)); });
  out.family("passthru_backend_connect_failures_total", "counter",
             "Connects to a backend of a rule with several that failed or timed out, each marking it down for the "
             "rule's down_ms, per listener, protocol table, rule and backend.");
  for (const WorkerMetrics* worker : workers)
    worker->visit_backends([&](const BackendLabels& b, const BackendCounters& c) { out.add("", backend_labels(b), count(c.connect_failures)); });
  out.family("passthru_detection_seconds", "histogram",
             "From accept (or a tunnel stream's start) to the routing decision, per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) { add_histogram(out, l, c.detection); });
  out.family("passthru_backend_connect_seconds", "histogram", "From the decision to the backend's accept, per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) { add_histogram(out, l, c.backend_connect); });
  out.family("passthru_mproxy_tunnels_total", "counter", "M-PROXY tunnels opened (DEMUX), per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) { out.add("", {{"listener", l}}, count(c.tunnels_opened)); });
  out.family("passthru_mproxy_tunnels_active", "gauge", "M-PROXY tunnels open now, per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) {
    out.add("", {{"listener", l}}, open_now(c.tunnels_opened, c.tunnels_closed));
  });
  out.family("passthru_mproxy_streams_total", "counter", "M-PROXY tunnel streams opened, per listener.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) { out.add("", {{"listener", l}}, count(c.streams_opened)); });
  out.family("passthru_mproxy_stream_ends_total", "counter", "M-PROXY tunnel streams ended, per listener and end= token.");
  per_listener(workers, [&](const std::string& l, const ListenerCounters& c) {
    for (std::size_t i = 0; i < kCloseReasons; ++i)
      if (c.stream_ends[i].get())
        out.add("", {{"listener", l}, {"end", token(static_cast<CloseReason>(i))}}, count(c.stream_ends[i]));
  });
  return out.text();
}

}  // namespace passthru::core
