// Helpers shared by the cluster scenarios (issue "High availability, proven"): shell jobs that
// append what really ran to a file, the reader of that file, the job history read back through
// the API, exactly-once accounting over a window of instants, and FIGURE lines.
//
// Every counting job appends one line per attempt that actually started:
//   "<HOURGLASS_JOB> <HOURGLASS_SCHEDULED_TIME> <HOURGLASS_EXECUTION_ID> <HOURGLASS_ATTEMPT> <ns>"
// where <ns> is the wall clock (date +%s%N) when the shell started. Appends of one short line
// with O_APPEND are atomic on Linux, so concurrent jobs may share one file.
//
// Thread-compatible; used from the test's main thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/cluster/cluster_harness.h"

namespace hg::testing {

// A shell job whose command appends its run line to `out_file`, then runs `tail` (may be "").
struct ShellJobSpec {
  std::string name;
  std::string cron = "* * * * * *";
  std::string out_file;
  std::string tail;                   // e.g. "sleep 20"
  std::string concurrency = "Allow";  // Allow | Forbid | Replace
  int max_retries = 0;
  std::string backoff = "1s";
  std::string starting_deadline = "10s";
};
nlohmann::json ShellJob(const ShellJobSpec& spec);
// The line-appending command alone (for jobs built by hand).
std::string AppendCommand(const std::string& out_file);

struct RunLine {
  std::string job;
  std::string scheduled;  // RFC 3339 as the worker passed it
  std::string id;         // execution id
  int attempt = 0;
  absl::Time started;  // wall clock when the shell started
};
std::vector<RunLine> ReadRuns(const std::string& path);

// GET /jobs/<job>/history through every page (newest first, as the API sends it).
absl::StatusOr<std::vector<nlohmann::json>> History(Cluster& c, const std::string& job,
                                                    int via = -1);
// Names of every job: GET /jobs/ through every page.
absl::StatusOr<std::set<std::string>> JobNames(Cluster& c, int via = -1);
// GET /executions/<id>.
absl::StatusOr<nlohmann::json> Execution(Cluster& c, const std::string& id, int via = -1);

// An integer knob from the environment (> 0), else `fallback`.
int EnvInt(const char* name, int fallback);
// A scenario's job rate: how many every-second jobs it runs, i.e. instants per second.
// HG_SCENARIO_JOBS overrides `fallback`, the CTest default (small, so the suite stays quick under
// sanitizers on 2 cores); RELIABILITY.md's figures are taken at HG_SCENARIO_JOBS=200.
int ScenarioJobs(int fallback);

// Polls `cond` every 50 ms until it holds or `timeout` passes; true when it held.
bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout);

absl::Time ParseTimeOrDie(const std::string& rfc3339);
std::string FormatSecond(absl::Time t);  // "2026-01-02T03:04:05Z"

// Exactly-once accounting of one every-second job over [from, to] (whole seconds):
// each instant ran exactly once (append file) or has a `missed` record; no instant ran twice;
// no two records for one instant.
struct Accounting {
  int instants = 0;       // instants in the window
  int ran = 0;            // instants with exactly one run
  int duplicates = 0;     // extra runs of an instant (all attempts with attempt 1 counted)
  int missed = 0;         // instants recorded missed
  int other_outcome = 0;  // no run, but a final record: failed/killed/timeout/skipped
  int no_outcome = 0;     // instants with neither a run nor a missed record
  int duplicate_records = 0;
  // other_outcome by "<status>/<reason>" (reason "-" when none), and a few records of each.
  std::map<std::string, int> other_by_kind;
  std::map<std::string, std::vector<std::string>> other_examples;
  std::vector<std::string> problems;  // human-readable, first few
};
Accounting Account(const std::vector<RunLine>& runs, const std::vector<nlohmann::json>& history,
                   const std::string& job, absl::Time from, absl::Time to);

// Prints "FIGURE <name>=<value>" to stdout and records it as a GoogleTest property.
void Figure(const std::string& name, double value);
void Figure(const std::string& name, const std::string& value);

// Pauses every job in `names` (through any live master) so no new instant starts.
void PauseAll(Cluster& c, const std::vector<std::string>& names);

// A set of every-second counting jobs "<prefix>-<i>" appending to one file.
struct Fleet {
  std::vector<std::string> names;
  std::string out_file;
  absl::Time created;  // when the last job was accepted
};
// Creates `n` jobs; job i uses Forbid when forbid(i), else Allow. Fails the test on error.
// tail(i), when given, runs after job i's append (e.g. a sleep and an "end" line).
Fleet CreateFleet(Cluster& c, const std::string& prefix, int n, const std::string& out_file,
                  const std::function<bool(int)>& forbid = nullptr,
                  const std::string& starting_deadline = "10s",
                  const std::function<std::string(int)>& tail = nullptr);

// Pauses the fleet, waits until no record of it is scheduled/running (bounded), then accounts
// every job over [from, to] and adds up the figures. Records problems as test failures when
// test failures: duplicates, instants without an outcome, missed instants unless `allow_missed`,
// and instants whose only outcome is a failed/killed/skipped record unless
// `allow_other_outcomes` (worker crashes, Forbid).
struct FleetResult {
  Accounting total;
  std::vector<RunLine> runs;
  std::map<std::string, std::vector<nlohmann::json>> history;  // job -> records
};
FleetResult SettleAndAccount(Cluster& c, const Fleet& fleet, absl::Time from, absl::Time to,
                             bool allow_missed = false, bool allow_other_outcomes = false);

// The first run (by wall start time) of a scheduled record with term > `after_term`.
struct FirstFire {
  bool found = false;
  RunLine run;
  int64_t term = 0;
  absl::Duration lateness;  // run.started - scheduled instant
};
FirstFire FirstFireAfterTerm(const FleetResult& r, int64_t after_term);

// Whole seconds: the first instant strictly after t, the last instant at or before t.
absl::Time NextSecond(absl::Time t);
absl::Time FloorSecond(absl::Time t);

// Sleeps until `frac` of the way into the next second (so a signal lands mid-second).
void SleepToFraction(double frac);

// Starts a cluster and waits (30 s each) for a leader and every worker. On error adds a test
// failure and returns nullptr; `leader` receives the leader's index.
std::unique_ptr<Cluster> StartCluster(const Cluster::Options& options, int* leader);

// The common start of the leadership scenarios (handover, zombie, partition): a cluster of
// `options`, `jobs` Allow jobs "tick-<i>" every second appending to <dir>/runs.txt, left to run
// for 3 s. `from` is the first instant the scenario accounts. On error the test has a failure
// (check ::testing::Test::HasFailure()) and `cluster` may be null.
struct TickScenario {
  std::unique_ptr<Cluster> cluster;
  int leader = -1;
  Fleet fleet;
  absl::Time from;
};
TickScenario StartTickScenario(const Cluster::Options& options, int jobs);

// FIGURE lines for the accounting of a fleet: instants, duplicates, missed, no_outcome.
void FleetFigures(const FleetResult& r);

// Records of `term` for an instant after `since` + `fire_ahead` (a leader frozen or cut off at
// `since` may have fired instants up to `fire_ahead` ahead before it, never later ones); each
// one is a test failure.
int StaleTermWrites(const FleetResult& r, int64_t term, absl::Time since,
                    absl::Duration fire_ahead);

// Median and max of a list of figures (0 when empty).
double Median(std::vector<double> v);
double Max(const std::vector<double>& v);

}  // namespace hg::testing
