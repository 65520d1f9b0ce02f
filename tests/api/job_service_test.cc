#include "api/job_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/field_errors.h"
#include "tests/api/api_test_util.h"
#include "tests/fixtures/flaky_kv.h"
#include "tests/fixtures/range_cost_kv.h"

namespace hg::api {
namespace {

using model::ExecutionStatus;
using ::testing::ElementsAre;
using ::testing::SizeIs;

class JobServiceTest : public testing::ServiceFixture {
 protected:
  std::vector<std::string> Ids(const HistoryPage& page) {
    std::vector<std::string> out;
    for (const auto& e : page.executions) out.push_back(e.id.str());
    return out;
  }
};

TEST_F(JobServiceTest, UpsertCreatesThenReplacesKeepingIdentity) {
  auto created = service_.Upsert(ShellJob("a"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  const model::Job& first = created->view.job;
  EXPECT_EQ(first.id.size(), 36u);
  EXPECT_EQ(first.id[14], '4');  // UUID v4
  EXPECT_EQ(first.created_at, clock_.Now());
  EXPECT_EQ(first.updated_at, clock_.Now());

  clock_.Advance(absl::Minutes(1));
  auto replaced = service_.Upsert(ShellJob("a", R"("description":"new")"));
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_FALSE(replaced->created);
  EXPECT_EQ(replaced->view.job.id, first.id);
  EXPECT_EQ(replaced->view.job.created_at, first.created_at);
  EXPECT_EQ(replaced->view.job.updated_at, clock_.Now());

  auto stored = service_.Get(Name("a"));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->job.description, "new");
  EXPECT_EQ(stored->job.id, first.id);
}

TEST_F(JobServiceTest, UpsertKeepsPausedWhenAsked) {
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  ASSERT_TRUE(service_.Pause(Name("a")).ok());
  auto kept = service_.Upsert(ShellJob("a"), /*keep_paused=*/true);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->view.job.paused);
  auto replaced = service_.Upsert(ShellJob("a"), /*keep_paused=*/false);
  ASSERT_TRUE(replaced.ok());
  EXPECT_FALSE(replaced->view.job.paused);
}

TEST_F(JobServiceTest, GetComputesNextRunAndLastExecution) {
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  auto view = service_.Get(Name("a"));
  ASSERT_TRUE(view.ok());
  // FakeClock starts at 2026-01-01T00:00:00Z; "0 */5 * * * *" fires next at 00:05.
  EXPECT_EQ(view->status.next_run, clock_.Now() + absl::Minutes(5));
  EXPECT_FALSE(view->status.last_execution);

  PutExecution("a", clock_.Now() - absl::Minutes(10), ExecutionStatus::kSuccess);
  model::Execution newest =
      PutExecution("a", clock_.Now() - absl::Minutes(5), ExecutionStatus::kFailed);
  PutExecution("ab", clock_.Now(), ExecutionStatus::kRunning);  // another job's, sorts after
  view = service_.Get(Name("a"));
  ASSERT_TRUE(view.ok());
  ASSERT_TRUE(view->status.last_execution);
  EXPECT_EQ(view->status.last_execution->id, newest.id);

  ASSERT_TRUE(service_.Pause(Name("a")).ok());
  view = service_.Get(Name("a"));
  EXPECT_FALSE(view->status.next_run);
}

TEST_F(JobServiceTest, GetMissing) {
  auto view = service_.Get(Name("nope"));
  EXPECT_EQ(view.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(view.status().message(), "job \"nope\" not found");
}

TEST_F(JobServiceTest, ListPagesByName) {
  for (const char* name : {"c", "a", "b", "d", "e"})
    ASSERT_TRUE(service_.Upsert(ShellJob(name)).ok());
  auto all = service_.List(0, "");
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(all->jobs, SizeIs(5));
  EXPECT_EQ(all->jobs[0].job.name.str(), "a");
  EXPECT_EQ(all->next_cursor, "");

  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = service_.List(2, cursor);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& v : page->jobs) seen.push_back(v.job.name.str());
    cursor = page->next_cursor;
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_THAT(seen, ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(service_.List(2, "a/b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service_.List(-1, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobServiceTest, ListFiltersByNamePrefixLabelsAndState) {
  // 250 jobs: "team-a-<i>" (label team=a, every 3rd paused) and "team-b-<i>" (team=b), plus
  // names whose key segments are encoded.
  for (int i = 0; i < 125; ++i) {
    const std::string n = absl::StrFormat("%03d", i);
    ASSERT_TRUE(service_
                    .Upsert(ShellJob("team-a-" + n,
                                     absl::StrCat(R"("labels":{"team":"a"},)", R"("paused":)",
                                                  i % 3 == 0 ? "true" : "false")))
                    .ok());
    ASSERT_TRUE(service_.Upsert(ShellJob("team-b-" + n, R"("labels":{"team":"b"})")).ok());
  }
  for (const char* n : {"备份 1", "备份 2", "备"}) ASSERT_TRUE(service_.Upsert(ShellJob(n)).ok());
  auto names = [](const JobPage& page) {
    std::vector<std::string> out;
    for (const auto& v : page.jobs) out.push_back(v.job.name.str());
    return out;
  };
  // Every page of a filtered list, following the cursors.
  auto collect = [&](int limit, const JobFilter& filter) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      auto page = service_.List(limit, cursor, filter);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int>(page->jobs.size()), limit);
      for (auto& n : names(*page)) out.push_back(n);
      cursor = page->next_cursor;
      if (cursor.empty()) break;
    }
    return out;
  };
  EXPECT_THAT(collect(7, {.name_prefix = "team-b-12"}),
              ElementsAre("team-b-120", "team-b-121", "team-b-122", "team-b-123", "team-b-124"));
  EXPECT_THAT(collect(50, {.name_prefix = "备份"}), ElementsAre("备份 1", "备份 2"));
  const auto paused_a =
      collect(10, {.labels = {{"team", "a"}}, .state = JobFilter::State::kPaused});
  EXPECT_EQ(paused_a.size(), 42u);  // i = 0, 3, …, 123
  EXPECT_EQ(paused_a.front(), "team-a-000");
  EXPECT_EQ(paused_a.back(), "team-a-123");
  EXPECT_EQ(collect(30, {.labels = {{"team", "b"}}}).size(), 125u);
  EXPECT_EQ(collect(30, {.state = JobFilter::State::kActive}).size(), 253u - 42u);
  EXPECT_TRUE(collect(5, {.labels = {{"team", "c"}}}).empty());
  // Failing: the newest record failed, timed out or was missed.
  PutExecution("team-b-007", clock_.Now() - absl::Minutes(2), ExecutionStatus::kSuccess);
  PutExecution("team-b-007", clock_.Now() - absl::Minutes(1), ExecutionStatus::kFailed);
  PutExecution("team-b-008", clock_.Now() - absl::Minutes(2), ExecutionStatus::kFailed);
  PutExecution("team-b-008", clock_.Now() - absl::Minutes(1), ExecutionStatus::kSuccess);
  PutExecution("team-a-001", clock_.Now() - absl::Minutes(1), ExecutionStatus::kTimeout);
  EXPECT_THAT(collect(1, {.state = JobFilter::State::kFailing}),
              ElementsAre("team-a-001", "team-b-007"));
}

TEST_F(JobServiceTest, ListComputesLastExecutionForManyJobs) {
  // More jobs than one read transaction holds (chunks of 100).
  for (int i = 0; i < 130; ++i) {
    const std::string name = absl::StrCat("job", 1000 + i);
    ASSERT_TRUE(service_.Upsert(ShellJob(name)).ok());
    if (i % 2 == 0) PutExecution(name, clock_.Now(), ExecutionStatus::kSuccess);
  }
  auto all = service_.List(0, "");
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(all->jobs, SizeIs(130));
  for (int i = 0; i < 130; ++i) {
    EXPECT_EQ(all->jobs[i].status.last_execution.has_value(), i % 2 == 0) << i;
  }
}

TEST_F(JobServiceTest, DeleteRemovesDefinitionAndCursorKeepsHistory) {
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Cursor(Name("a")), .value = "x"}).ok());
  auto e = PutExecution("a", clock_.Now(), ExecutionStatus::kSuccess);
  ASSERT_TRUE(service_.Delete(Name("a"), {}).ok());
  EXPECT_EQ(service_.Get(Name("a")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(*store::Get(*kv_, service_.keys().Cursor(Name("a"))));
  EXPECT_TRUE(service_.GetExecution(e.id).ok());
  // Idempotent.
  EXPECT_TRUE(service_.Delete(Name("a"), {}).ok());
  // Purge removes the history and its pending dispatches, even after the definition is gone,
  // and nothing of a job whose name merely starts the same.
  auto pending = PutExecution("a", clock_.Now(), ExecutionStatus::kScheduled);
  auto other = PutExecution("ab", clock_.Now(), ExecutionStatus::kScheduled);
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Pending(pending.id), .value = "{}"}).ok());
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Pending(other.id), .value = "{}"}).ok());
  ASSERT_TRUE(service_.Delete(Name("a"), {.purge = true}).ok());
  EXPECT_EQ(service_.GetExecution(e.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(store::Get(*kv_, service_.keys().Pending(pending.id))->has_value());
  EXPECT_TRUE(store::Get(*kv_, service_.keys().Pending(other.id))->has_value());
  EXPECT_TRUE(service_.GetExecution(other.id).ok());
}

TEST_F(JobServiceTest, DeleteWithKill) {
  model::Job job = ShellJob("a");
  job.history_limit = 1;  // the unfinished runs are far older than the newest record
  ASSERT_TRUE(service_.Upsert(job).ok());
  auto running = PutExecution("a", clock_.Now() - absl::Minutes(5), ExecutionStatus::kRunning);
  auto scheduled = PutExecution("a", clock_.Now() - absl::Minutes(4), ExecutionStatus::kScheduled);
  auto done = PutExecution("a", clock_.Now() - absl::Minutes(3), ExecutionStatus::kSuccess);
  PutExecution("a", clock_.Now() - absl::Minutes(2), ExecutionStatus::kSuccess);
  MarkQueued(scheduled.id);
  MarkClaimed(running.id);
  ASSERT_TRUE(service_.Delete(Name("a"), {.kill = true}).ok());
  EXPECT_FALSE(store::Get(*kv_, service_.keys().Pending(scheduled.id))->has_value());
  model::Execution ended = *service_.GetExecution(scheduled.id);
  EXPECT_EQ(ended.status, ExecutionStatus::kKilled);
  EXPECT_EQ(ended.reason, model::EndReason::kJobDeleted);
  EXPECT_EQ(service_.GetExecution(done.id)->status, ExecutionStatus::kSuccess);
  auto request = store::Get(*kv_, service_.keys().Kill(running.id));
  ASSERT_TRUE(request.ok() && request->has_value());
  EXPECT_EQ((*request)->value, "job deleted");
  EXPECT_NE((*request)->lease, 0);
  EXPECT_FALSE(*store::Get(*kv_, service_.keys().Kill(done.id)));
  EXPECT_FALSE(*store::Get(*kv_, service_.keys().Kill(scheduled.id)));
}

TEST_F(JobServiceTest, DeleteWithoutKillStillEndsWhatNeverStarted) {
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  auto scheduled = PutExecution("a", clock_.Now(), ExecutionStatus::kScheduled);
  MarkQueued(scheduled.id);
  ASSERT_TRUE(service_.Delete(Name("a"), {}).ok());
  EXPECT_FALSE(store::Get(*kv_, service_.keys().Pending(scheduled.id))->has_value());
  EXPECT_EQ(service_.GetExecution(scheduled.id)->reason, model::EndReason::kJobDeleted);
}

TEST_F(JobServiceTest, HistoryNewestFirstWithPagesAndCursors) {
  std::vector<std::string> newest_first;
  for (int i = 0; i < 25; ++i) {
    newest_first.insert(
        newest_first.begin(),
        PutExecution("a", clock_.Now() + absl::Seconds(i), ExecutionStatus::kSuccess).id.str());
  }
  auto page1 = service_.History(Name("a"), {.page = 1, .page_size = 10});
  ASSERT_TRUE(page1.ok()) << page1.status();
  EXPECT_EQ(Ids(*page1), std::vector<std::string>(newest_first.begin(), newest_first.begin() + 10));
  auto page3 = service_.History(Name("a"), {.page = 3, .page_size = 10});
  ASSERT_TRUE(page3.ok());
  EXPECT_EQ(Ids(*page3), std::vector<std::string>(newest_first.begin() + 20, newest_first.end()));
  EXPECT_EQ(page3->next_cursor, "");
  auto page4 = service_.History(Name("a"), {.page = 4, .page_size = 10});
  ASSERT_TRUE(page4.ok());
  EXPECT_THAT(page4->executions, SizeIs(0));

  // Following cursors yields every record once, in order.
  std::vector<std::string> all;
  HistoryQuery q{.page_size = 7};
  for (int guard = 0; guard < 10; ++guard) {
    auto page = service_.History(Name("a"), q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (auto& id : Ids(*page)) all.push_back(id);
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  EXPECT_EQ(all, newest_first);
}

TEST_F(JobServiceTest, HistoryStatusFilter) {
  // Through the status index, and by scanning on a store whose index is not complete yet.
  for (bool indexed : {false, true}) {
    SCOPED_TRACE(indexed ? "indexed" : "scanned");
    const std::string job = indexed ? "indexed" : "scanned";
    if (indexed) MarkIndexed();
    std::vector<std::string> failed_newest_first;
    for (int i = 0; i < 30; ++i) {
      auto status = i % 3 == 0 ? ExecutionStatus::kFailed : ExecutionStatus::kSuccess;
      auto e = PutExecution(job, clock_.Now() + absl::Seconds(i), status);
      if (status == ExecutionStatus::kFailed)
        failed_newest_first.insert(failed_newest_first.begin(), e.id.str());
    }
    auto page2 = service_.History(Name(job),
                                  {.page = 2, .page_size = 4, .status = ExecutionStatus::kFailed});
    ASSERT_TRUE(page2.ok());
    EXPECT_EQ(Ids(*page2), std::vector<std::string>(failed_newest_first.begin() + 4,
                                                    failed_newest_first.begin() + 8));
    std::vector<std::string> all;
    HistoryQuery q{.page_size = 3, .status = ExecutionStatus::kFailed};
    int pages = 0;
    for (; pages < 10; ++pages) {
      auto page = service_.History(Name(job), q);
      ASSERT_TRUE(page.ok());
      for (auto& id : Ids(*page)) all.push_back(id);
      if (page->next_cursor.empty()) break;
      q.cursor = page->next_cursor;
    }
    EXPECT_EQ(all, failed_newest_first);
    EXPECT_EQ(pages, 3);  // 10 failures in pages of 3: the fourth page ends without a cursor
  }
}

// Before: the newest page of a 3,000-record history ranged over all 3,000 keys (a newest-first
// read reversed the whole range; etcd collects every key of a range before its limit) and a
// status-filtered page scanned records until it was full — 2,000 and more for a rare status.
// Now every page costs about the keys of its own time span.
TEST_F(JobServiceTest, HistoryPagesCostTheirOwnTimeSpanNotTheWholeHistory) {
  MarkIndexed();
  const absl::Time newest = clock_.Now();
  std::vector<model::Execution> newest_first;
  store::TxnRequest txn;
  for (int i = 0; i < 3000; ++i) {
    model::Execution e = model::NewExecution(Name("big"), newest - absl::Seconds(i),
                                             model::Trigger::kSchedule, 1, rng_);
    e.status = (i + 1) % 1000 == 0  ? ExecutionStatus::kTimeout
               : (i + 1) % 100 == 0 ? ExecutionStatus::kFailed
                                    : ExecutionStatus::kSuccess;
    runs::PutRecordTo(txn.success, service_.keys(), e);
    newest_first.push_back(e);
    if (txn.success.size() >= 100) {
      ASSERT_TRUE(kv_->Txn(txn).ok());
      txn.success.clear();
    }
  }
  ASSERT_TRUE(kv_->Txn(txn).ok());

  ::hg::testing::RangeCostKv cost(*kv_);
  JobService svc(cost, clock_);
  auto expect_page = [&](const HistoryQuery& q, std::vector<model::Execution> want,
                         int64_t max_keys) {
    cost.Reset();
    auto page = svc.History(Name("big"), q);
    ASSERT_TRUE(page.ok()) << page.status();
    std::vector<std::string> want_ids;
    for (const auto& e : want) want_ids.push_back(e.id.str());
    EXPECT_EQ(Ids(*page), want_ids);
    EXPECT_LE(cost.keys_ranged(), max_keys);
  };
  auto slice = [&](size_t from, size_t n) {
    return std::vector<model::Execution>(newest_first.begin() + from,
                                         newest_first.begin() + from + n);
  };
  expect_page({.page_size = 20}, slice(0, 20), 200);
  expect_page({.page_size = 20, .cursor = std::string(newest_first[1500].id.suffix())},
              slice(1501, 20), 200);
  expect_page({.page = 10, .page_size = 20}, slice(180, 20), 700);
  std::vector<model::Execution> failed, timeout;
  for (const auto& e : newest_first) {
    if (e.status == ExecutionStatus::kFailed) failed.push_back(e);
    if (e.status == ExecutionStatus::kTimeout) timeout.push_back(e);
  }
  expect_page({.page_size = 5, .status = ExecutionStatus::kFailed},
              {failed.begin(), failed.begin() + 5}, 200);
  expect_page({.page_size = 20, .status = ExecutionStatus::kTimeout}, timeout, 200);
  expect_page({.page_size = 20, .status = ExecutionStatus::kKilled}, {}, 200);
}

TEST_F(JobServiceTest, AStatusFilterPassesOverAnEntryWhoseRecordMovedOn) {
  MarkIndexed();
  model::Execution e = PutExecution("a", clock_.Now(), ExecutionStatus::kFailed);
  auto other = PutExecution("a", clock_.Now() - absl::Seconds(1), ExecutionStatus::kFailed);
  e.status = ExecutionStatus::kSuccess;  // a late result merged: the failed entry stays behind
  PutRecord(e);
  auto failed = service_.History(Name("a"), {.status = ExecutionStatus::kFailed});
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(Ids(*failed), std::vector<std::string>{other.id.str()});
  auto succeeded = service_.History(Name("a"), {.status = ExecutionStatus::kSuccess});
  ASSERT_TRUE(succeeded.ok());
  EXPECT_EQ(Ids(*succeeded), std::vector<std::string>{e.id.str()});
}

TEST_F(JobServiceTest, UnfinishedStatusesComeFromQueuedAndClaimedEntries) {
  MarkIndexed();
  const absl::Time t = clock_.Now();
  auto queued = PutExecution("a", t, ExecutionStatus::kScheduled);
  MarkQueued(queued.id);
  auto claimed = PutExecution("a", t - absl::Seconds(1), ExecutionStatus::kScheduled);
  MarkClaimed(claimed.id);  // claimed, not yet marked running: still `scheduled`
  auto running = PutExecution("a", t - absl::Seconds(2), ExecutionStatus::kRunning);
  MarkClaimed(running.id);
  for (int i = 3; i < 50; ++i) PutExecution("a", t - absl::Seconds(i), ExecutionStatus::kSuccess);

  auto scheduled = service_.History(Name("a"), {.status = ExecutionStatus::kScheduled});
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();
  EXPECT_EQ(Ids(*scheduled), (std::vector<std::string>{queued.id.str(), claimed.id.str()}));
  auto first = service_.History(Name("a"), {.page_size = 1, .status = ExecutionStatus::kScheduled});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Ids(*first), std::vector<std::string>{queued.id.str()});
  ASSERT_FALSE(first->next_cursor.empty());
  auto second = service_.History(
      Name("a"),
      {.page_size = 1, .cursor = first->next_cursor, .status = ExecutionStatus::kScheduled});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Ids(*second), std::vector<std::string>{claimed.id.str()});
  EXPECT_EQ(second->next_cursor, "");
  auto run = service_.History(Name("a"), {.status = ExecutionStatus::kRunning});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(Ids(*run), std::vector<std::string>{running.id.str()});
}

TEST_F(JobServiceTest, PurgeDeletesTheStatusIndexToo) {
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  PutExecution("a", clock_.Now(), ExecutionStatus::kFailed);
  const std::string index = service_.keys().StatusIndexOf(Name("a"));
  ASSERT_EQ(kv_->Range(store::RangeRequest::Prefix(index))->kvs.size(), 1u);
  ASSERT_TRUE(service_.Delete(Name("a"), {.purge = true}).ok());
  EXPECT_EQ(kv_->Range(store::RangeRequest::Prefix(index))->kvs.size(), 0u);
}

TEST_F(JobServiceTest, HistoryRejectsBadQueries) {
  auto r = service_.History(Name("a"), {.page = 0, .page_size = 5000, .cursor = "zzz"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(model::FieldErrorsOf(r.status()),
              ElementsAre(model::FieldError{"page", "must be 1 or more"},
                          model::FieldError{"page_size", "must be between 1 and 1000"},
                          model::FieldError{"cursor", "is not a cursor of this job's history"}));
}

TEST_F(JobServiceTest, TriggerNeedsTheJob) {
  EXPECT_EQ(service_.Trigger(Name("a")).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  auto e = service_.Trigger(Name("a"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->status, ExecutionStatus::kScheduled);
  EXPECT_EQ(e->trigger, model::Trigger::kManual);
  EXPECT_EQ(e->scheduled_time, clock_.Now());
  EXPECT_EQ(e->id.job().str(), "a");
  auto stored = service_.GetExecution(e->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, *e);
  // Queued for the leader: the first attempt, under the job's revision (no job copy: the
  // worker reads the definition from the store).
  auto pending = store::Get(*kv_, service_.keys().Pending(e->id));
  ASSERT_TRUE(pending.ok() && pending->has_value());
  auto entry = runs::DecodePending((*pending)->value);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->attempt, 1);
  auto job_kv = store::Get(*kv_, service_.keys().Job(Name("a")));
  EXPECT_EQ(entry->job_revision, (*job_kv)->mod_revision);
}

TEST_F(JobServiceTest, TheCursorIsWrittenWithTheJobAndMovesOnlyWithItsSchedule) {
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  const std::string key = service_.keys().Cursor(Name("a"));
  auto cursor = [&] {
    auto kv = store::Get(*kv_, key);
    EXPECT_TRUE(kv.ok() && kv->has_value());
    return *runs::DecodeCursor((*kv)->value);
  };
  const absl::Time created = clock_.Now();
  EXPECT_EQ(cursor(), created);  // a new job starts from its creation
  clock_.Advance(absl::Minutes(5));
  model::Job same = ShellJob("a");
  same.description = "only the description";
  ASSERT_TRUE(service_.Upsert(same).ok());
  EXPECT_EQ(cursor(), created);  // no schedule change: the scheduler's cursor is kept
  model::Job moved = ShellJob("a");
  moved.cron_expr = "0 */10 * * * *";
  ASSERT_TRUE(service_.Upsert(moved).ok());
  EXPECT_EQ(cursor(), clock_.Now());  // a new schedule starts now, never replays the old one
}

TEST_F(JobServiceTest, PauseResume) {
  EXPECT_EQ(service_.Pause(Name("a")).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(service_.Upsert(ShellJob("a")).ok());
  clock_.Advance(absl::Seconds(5));
  auto paused = service_.Pause(Name("a"));
  ASSERT_TRUE(paused.ok());
  EXPECT_TRUE(paused->job.paused);
  EXPECT_EQ(paused->job.updated_at, clock_.Now());
  EXPECT_TRUE(service_.Get(Name("a"))->job.paused);
  auto resumed = service_.Resume(Name("a"));
  ASSERT_TRUE(resumed.ok());
  EXPECT_FALSE(resumed->job.paused);
  EXPECT_TRUE(resumed->status.next_run.has_value());
}

TEST_F(JobServiceTest, KillExecution) {
  auto scheduled = PutExecution("a", clock_.Now(), ExecutionStatus::kScheduled);
  auto running = PutExecution("a", clock_.Now(), ExecutionStatus::kRunning);
  auto done = PutExecution("a", clock_.Now(), ExecutionStatus::kSuccess);

  MarkQueued(scheduled.id);
  MarkClaimed(running.id);
  auto killed = service_.KillExecution(scheduled.id);
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(killed->status, ExecutionStatus::kKilled);
  EXPECT_EQ(killed->end_time, clock_.Now());
  EXPECT_EQ(killed->error, "killed: kill requested (before it started)");
  EXPECT_FALSE(store::Get(*kv_, service_.keys().Pending(scheduled.id))->has_value());

  auto asked = service_.KillExecution(running.id);
  ASSERT_TRUE(asked.ok());
  EXPECT_EQ(asked->status, ExecutionStatus::kRunning);  // the worker finishes it
  auto request = store::Get(*kv_, service_.keys().Kill(running.id));
  ASSERT_TRUE(request.ok() && request->has_value());
  EXPECT_EQ((*request)->value, "kill requested");  // the worker records "killed: <value>"
  // The request goes away by itself with its lease.
  auto ttl = kv_->LeaseTimeToLive((*request)->lease, false);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->granted_ttl, service_.options().kill_request_ttl_seconds);

  auto finished = service_.KillExecution(done.id);
  EXPECT_EQ(finished.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(finished.status().message()), ::testing::HasSubstr("already finished"));
  auto missing = service_.KillExecution(*model::ExecutionId::Parse("a@1772938800000-00000000"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobServiceTest, Cluster) {
  auto empty = service_.Cluster();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->leader);
  const model::Keys& keys = service_.keys();
  ASSERT_TRUE(kv_->Put({.key = keys.ElectionPrefix() + "6b8b4567",
                        .value = R"({"id":"m1","address":"10.0.0.1:8080"})"})
                  .ok());
  ASSERT_TRUE(
      kv_->Put({.key = keys.ElectionPrefix() + "327b23c6", .value = R"({"id":"m2"})"}).ok());
  ASSERT_TRUE(kv_->Put({.key = keys.Master("m1"), .value = R"({"address":"10.0.0.1:8080"})"}).ok());
  ASSERT_TRUE(kv_->Put({.key = keys.Worker("w1"),
                        .value = R"({"id":"w1","labels":{"zone":"a"},"capacity":4})"})
                  .ok());
  ASSERT_TRUE(kv_->Put({.key = keys.Worker("w2"), .value = "not json"}).ok());
  // w1 holds two claimed runs, a worker that is gone one.
  for (const char* worker : {"w1", "w1", "gone"}) {
    const auto id = model::ExecutionId::New(Name("j"), clock_.Now(), rng_);
    ASSERT_TRUE(kv_->Put({.key = keys.Inflight(id),
                          .value = runs::EncodeInflight({.worker_id = worker, .lease = 7})})
                    .ok());
  }
  auto info = service_.Cluster();
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(info->leader);
  EXPECT_EQ(info->leader->id, "m1");  // the older candidate, whatever its key sorts as
  EXPECT_EQ(info->leader->info["address"], "10.0.0.1:8080");
  ASSERT_THAT(info->masters, SizeIs(1));
  EXPECT_EQ(info->masters[0].id, "m1");
  ASSERT_THAT(info->workers, SizeIs(2));
  EXPECT_EQ(info->workers[0].info["capacity"], 4);
  EXPECT_EQ(info->workers[0].in_flight, 2);
  EXPECT_EQ(info->workers[1].id, "w2");
  EXPECT_EQ(info->workers[1].in_flight, 0);
  EXPECT_EQ(info->workers[1].info["value"], "not json");
}

TEST_F(JobServiceTest, CronPreview) {
  auto p = service_.PreviewCron("0 0 3 * * *", "Europe/Berlin", 3);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->timezone, "Europe/Berlin");
  EXPECT_FALSE(p->description.empty());
  // 03:00 CET = 02:00Z, from 2026-01-01T00:00Z.
  EXPECT_THAT(p->next, ElementsAre(clock_.Now() + absl::Hours(2), clock_.Now() + absl::Hours(26),
                                   clock_.Now() + absl::Hours(50)));
  auto bad = service_.PreviewCron("0 0 25 * * *", "Mars/Base", 0);
  ASSERT_FALSE(bad.ok());
  auto fields = model::FieldErrorsOf(bad.status());
  ASSERT_THAT(fields, SizeIs(3));
  EXPECT_EQ(fields[0].field, "tz");
  EXPECT_EQ(fields[1].field, "n");
  EXPECT_EQ(fields[2].field, "expr");
  EXPECT_THAT(model::FieldErrorsOf(service_.PreviewCron("", "", 1).status()),
              ElementsAre(model::FieldError{"expr", "is required"}));
  // An expression that can never fire is a validation error of the parser.
  auto never = service_.PreviewCron("0 0 0 30 2 *", "", 5);
  EXPECT_THAT(model::FieldErrorsOf(never.status()), SizeIs(1));
}

TEST_F(JobServiceTest, StoreDownIsUnavailable) {
  worker::testing::FlakyKv flaky(*kv_);
  JobService service(flaky, clock_);
  EXPECT_TRUE(service.Ping().ok());
  flaky.SetDown(true);
  EXPECT_EQ(service.Ping().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service.Get(Name("a")).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service.Upsert(ShellJob("a")).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace hg::api
