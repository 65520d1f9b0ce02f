#include "tests/cluster/scenario.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace hg::testing {

std::string AppendCommand(const std::string& out_file) {
  return "echo \"$HOURGLASS_JOB $HOURGLASS_SCHEDULED_TIME $HOURGLASS_EXECUTION_ID "
         "$HOURGLASS_ATTEMPT $(date +%s%N)\" >> " +
         out_file;
}

nlohmann::json ShellJob(const ShellJobSpec& spec) {
  std::string command = AppendCommand(spec.out_file);
  if (!spec.tail.empty()) absl::StrAppend(&command, "; ", spec.tail);
  return {{"name", spec.name},
          {"cron_expr", spec.cron},
          {"executor_type", "shell"},
          {"executor", {{"command", command}}},
          {"concurrency_policy", spec.concurrency},
          {"retry_policy", {{"max_retries", spec.max_retries}, {"backoff", spec.backoff}}},
          {"starting_deadline", spec.starting_deadline},
          {"history_limit", 10000}};
}

std::vector<RunLine> ReadRuns(const std::string& path) {
  std::vector<RunLine> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> p = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (p.size() != 5) continue;
    RunLine r{.job = p[0], .scheduled = p[1], .id = p[2], .attempt = 0, .started = {}};
    int64_t ns = 0;
    if (!absl::SimpleAtoi(p[3], &r.attempt) || !absl::SimpleAtoi(p[4], &ns)) continue;
    r.started = absl::FromUnixNanos(ns);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<nlohmann::json>> History(Cluster& c, const std::string& job, int via) {
  std::vector<nlohmann::json> out;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    std::string path = absl::StrCat("/jobs/", job, "/history?page_size=1000");
    if (!cursor.empty()) absl::StrAppend(&path, "&cursor=", cursor);
    auto r = c.Http(via, "GET", path);
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return absl::InternalError(absl::StrCat("history of ", job, ": ", r->status, " ", r->body));
    }
    auto j = r->Json();
    if (!j.is_array()) return absl::InternalError("history is not an array: " + r->body);
    for (auto& rec : j) out.push_back(rec);
    auto it = r->headers.find("X-Next-Cursor");
    if (it == r->headers.end() || it->second.empty()) return out;
    cursor = it->second;
  }
  return out;
}

absl::StatusOr<std::set<std::string>> JobNames(Cluster& c, int via) {
  std::set<std::string> out;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    std::string path = "/jobs/?limit=100";
    if (!cursor.empty()) absl::StrAppend(&path, "&cursor=", cursor);
    auto r = c.Http(via, "GET", path);
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return absl::UnavailableError(absl::StrCat("GET ", path, ": ", r->status, " ", r->body));
    }
    for (const auto& j : r->Json()) out.insert(j.value("name", ""));
    auto it = r->headers.find("X-Next-Cursor");
    if (it == r->headers.end() || it->second.empty()) return out;
    cursor = it->second;
  }
  return absl::InternalError("GET /jobs/: more than 1000 pages");
}

absl::StatusOr<nlohmann::json> Execution(Cluster& c, const std::string& id, int via) {
  auto r = c.Http(via, "GET", "/executions/" + id);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return absl::InternalError(absl::StrCat("execution ", id, ": ", r->status, " ", r->body));
  }
  return r->Json();
}

int EnvInt(const char* name, int fallback) {
  int n = 0;
  const char* env = std::getenv(name);  // NOLINT: test knob
  return env != nullptr && absl::SimpleAtoi(env, &n) && n > 0 ? n : fallback;
}

int ScenarioJobs(int fallback) { return EnvInt("HG_SCENARIO_JOBS", fallback); }

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (cond()) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

absl::Time ParseTimeOrDie(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) {
    ADD_FAILURE() << "bad time \"" << rfc3339 << "\": " << err;
    return absl::InfinitePast();
  }
  return t;
}

std::string FormatSecond(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

Accounting Account(const std::vector<RunLine>& runs, const std::vector<nlohmann::json>& history,
                   const std::string& job, absl::Time from, absl::Time to) {
  Accounting a;
  auto problem = [&a](std::string p) {
    if (a.problems.size() < 20) a.problems.push_back(std::move(p));
  };
  // instant -> execution ids that ran it; (id, attempt) -> lines
  std::map<absl::Time, std::set<std::string>> ids_of;
  std::map<std::pair<std::string, int>, int> lines_of;
  for (const RunLine& r : runs) {
    if (r.job != job) continue;
    const absl::Time t = ParseTimeOrDie(r.scheduled);
    ids_of[t].insert(r.id);
    if (++lines_of[{r.id, r.attempt}] == 2) {
      ++a.duplicates;
      problem(absl::StrCat(job, " ", r.id, " attempt ", r.attempt, " ran twice"));
    }
  }
  std::map<absl::Time, std::string> status_of;
  std::map<absl::Time, const nlohmann::json*> record_of;
  for (const auto& rec : history) {
    const absl::Time t = ParseTimeOrDie(rec.value("scheduled_time", ""));
    if (rec.value("trigger", "") == "manual") continue;
    if (status_of.count(t)) {
      ++a.duplicate_records;
      problem(absl::StrCat(job, " two records for ", FormatSecond(t)));
    }
    status_of[t] = rec.value("status", "");
    record_of[t] = &rec;
  }
  for (absl::Time t = from; t <= to; t += absl::Seconds(1)) {
    ++a.instants;
    auto it = ids_of.find(t);
    const size_t n = it == ids_of.end() ? 0 : it->second.size();
    if (n > 1) {
      a.duplicates += static_cast<int>(n) - 1;
      problem(absl::StrCat(job, " ", FormatSecond(t), " ran as ", n, " executions"));
    }
    if (n >= 1) {
      ++a.ran;
    } else if (status_of.count(t) && status_of[t] == "missed") {
      ++a.missed;
    } else if (status_of.count(t) && (status_of[t] == "failed" || status_of[t] == "killed" ||
                                      status_of[t] == "timeout" || status_of[t] == "skipped")) {
      ++a.other_outcome;
      const nlohmann::json& rec = *record_of[t];
      const std::string kind = absl::StrCat(status_of[t], "/", rec.value("reason", "-"));
      ++a.other_by_kind[kind];
      if (a.other_examples[kind].size() < 3) a.other_examples[kind].push_back(rec.dump());
    } else {
      ++a.no_outcome;
      problem(absl::StrCat(job, " ", FormatSecond(t), " has no outcome (record: ",
                           status_of.count(t) ? status_of[t] : "none", ")"));
    }
  }
  return a;
}

void Figure(const std::string& name, double value) {
  std::cout << "FIGURE " << name << "=" << value << std::endl;
  ::testing::Test::RecordProperty(name, std::to_string(value));
}

void Figure(const std::string& name, const std::string& value) {
  std::cout << "FIGURE " << name << "=" << value << std::endl;
  ::testing::Test::RecordProperty(name, value);
}

void PauseAll(Cluster& c, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    bool ok = WaitFor(
        [&] {
          auto r = c.Http(-1, "POST", "/jobs/" + n + "/pause");
          return r.ok() && r->status == 200;
        },
        absl::Seconds(20));
    EXPECT_TRUE(ok) << "could not pause " << n;
  }
}

absl::Time FloorSecond(absl::Time t) {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t));  // ToUnixSeconds rounds down
}

absl::Time NextSecond(absl::Time t) { return FloorSecond(t) + absl::Seconds(1); }

void SleepToFraction(double frac) {
  const absl::Time now = absl::Now();
  absl::Time at = FloorSecond(now) + absl::Seconds(frac);
  if (at <= now) at += absl::Seconds(1);
  absl::SleepFor(at - now);
}

Fleet CreateFleet(Cluster& c, const std::string& prefix, int n, const std::string& out_file,
                  const std::function<bool(int)>& forbid, const std::string& starting_deadline,
                  const std::function<std::string(int)>& tail) {
  Fleet f;
  f.out_file = out_file;
  for (int i = 0; i < n; ++i) {
    const std::string name = absl::StrCat(prefix, "-", i);
    const nlohmann::json job = ShellJob({.name = name,
                                         .cron = "* * * * * *",
                                         .out_file = out_file,
                                         .tail = tail ? tail(i) : "",
                                         .concurrency = forbid && forbid(i) ? "Forbid" : "Allow",
                                         .max_retries = 0,
                                         .backoff = "1s",
                                         .starting_deadline = starting_deadline});
    bool ok = WaitFor(
        [&] {
          auto r = c.Http(-1, "POST", "/jobs/", job.dump());
          return r.ok() && r->status == 201;
        },
        absl::Seconds(20));
    EXPECT_TRUE(ok) << "could not create " << name;
    f.names.push_back(name);
  }
  f.created = absl::Now();
  return f;
}

FleetResult SettleAndAccount(Cluster& c, const Fleet& fleet, absl::Time from, absl::Time to,
                             bool allow_missed, bool allow_other_outcomes) {
  FleetResult out;
  PauseAll(c, fleet.names);
  // Runs are quick: wait until nothing of the fleet is scheduled or running.
  const bool settled = WaitFor(
      [&] {
        for (const auto& name : fleet.names) {
          auto h = History(c, name);
          if (!h.ok()) return false;
          for (const auto& e : *h) {
            const std::string st = e.value("status", "");
            if (st == "scheduled" || st == "running") return false;
          }
          out.history[name] = *std::move(h);
        }
        return true;
      },
      absl::Seconds(30));
  EXPECT_TRUE(settled) << "fleet records still scheduled/running 30 s after the pause";
  out.runs = ReadRuns(fleet.out_file);
  for (const auto& name : fleet.names) {
    Accounting a = Account(out.runs, out.history[name], name, from, to);
    out.total.instants += a.instants;
    out.total.ran += a.ran;
    out.total.duplicates += a.duplicates;
    out.total.missed += a.missed;
    out.total.other_outcome += a.other_outcome;
    out.total.no_outcome += a.no_outcome;
    out.total.duplicate_records += a.duplicate_records;
    for (const auto& [kind, n] : a.other_by_kind) out.total.other_by_kind[kind] += n;
    for (auto& [kind, recs] : a.other_examples) {
      auto& keep = out.total.other_examples[kind];
      for (auto& r : recs) {
        if (keep.size() < 3) keep.push_back(std::move(r));
      }
    }
    for (auto& p : a.problems) {
      if (out.total.problems.size() < 30) out.total.problems.push_back(std::move(p));
    }
  }
  for (const auto& [kind, n] : out.total.other_by_kind) {
    std::cout << "outcome without a run: " << kind << " x" << n << ", e.g.\n";
    for (const auto& r : out.total.other_examples[kind]) std::cout << "  " << r << "\n";
  }
  EXPECT_EQ(out.total.duplicates, 0);
  EXPECT_EQ(out.total.duplicate_records, 0);
  EXPECT_EQ(out.total.no_outcome, 0);
  if (!allow_missed) {
    EXPECT_EQ(out.total.missed, 0);
  }
  if (!allow_other_outcomes) {
    EXPECT_EQ(out.total.other_outcome, 0);
  }
  EXPECT_GT(out.total.ran, 0);
  for (const auto& p : out.total.problems) ADD_FAILURE() << p;
  return out;
}

FirstFire FirstFireAfterTerm(const FleetResult& r, int64_t after_term) {
  std::map<std::string, int64_t> term_of;  // execution id -> term of its record
  for (const auto& [job, recs] : r.history) {
    for (const auto& e : recs) {
      if (e.value("trigger", "") == "manual") continue;
      term_of[e.value("id", "")] = e.value("term", int64_t{0});
    }
  }
  FirstFire f;
  for (const RunLine& run : r.runs) {
    auto it = term_of.find(run.id);
    if (it == term_of.end() || it->second <= after_term || run.attempt != 1) continue;
    if (!f.found || run.started < f.run.started) {
      f.found = true;
      f.run = run;
      f.term = it->second;
    }
  }
  if (f.found) f.lateness = f.run.started - ParseTimeOrDie(f.run.scheduled);
  return f;
}

std::unique_ptr<Cluster> StartCluster(const Cluster::Options& options, int* leader) {
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) {
    ADD_FAILURE() << cluster.status();
    return nullptr;
  }
  auto l = (*cluster)->WaitLeader(absl::Seconds(30));
  if (!l.ok()) {
    ADD_FAILURE() << l.status();
    return nullptr;
  }
  *leader = *l;
  if (auto st = (*cluster)->WaitWorkers(options.workers, absl::Seconds(30)); !st.ok()) {
    ADD_FAILURE() << st;
    return nullptr;
  }
  return *std::move(cluster);
}

TickScenario StartTickScenario(const Cluster::Options& options, int jobs) {
  TickScenario s;
  s.cluster = StartCluster(options, &s.leader);
  if (s.cluster == nullptr) return s;
  Figure("jobs", jobs);
  s.fleet = CreateFleet(*s.cluster, "tick", jobs, s.cluster->dir() + "/runs.txt");
  if (::testing::Test::HasFailure()) return s;
  s.from = NextSecond(s.fleet.created) + absl::Seconds(1);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  return s;
}

void FleetFigures(const FleetResult& r) {
  Figure("instants", r.total.instants);
  Figure("duplicates", r.total.duplicates);
  Figure("missed", r.total.missed);
  Figure("no_outcome", r.total.no_outcome);
}

int StaleTermWrites(const FleetResult& r, int64_t term, absl::Time since,
                    absl::Duration fire_ahead) {
  int n = 0;
  for (const auto& [job, recs] : r.history) {
    for (const auto& e : recs) {
      if (e.value("term", int64_t{0}) == term &&
          ParseTimeOrDie(e.value("scheduled_time", "")) > since + fire_ahead) {
        ++n;
        ADD_FAILURE() << "term " << term << " (deposed at " << absl::FormatTime(since) << ") wrote "
                      << e.dump();
      }
    }
  }
  return n;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double Max(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

}  // namespace hg::testing
