#include "app/master_node.h"

#include "absl/strings/str_cat.h"
#include "api/job_service.h"
#include "api/server.h"
#include "common/logging.h"
#include "common/status.h"

namespace hg::app {

MasterNode::MasterNode(store::Kv& kv, Clock& clock, model::Keys keys,
                       dispatch::WorkerClient& workers, MasterNodeOptions options)
    : kv_(kv), clock_(clock), keys_(std::move(keys)), workers_(workers),
      options_(std::move(options)) {}

MasterNode::~MasterNode() { Stop(); }

absl::Status MasterNode::Start() {
  jobs_ = std::make_unique<api::JobService>(kv_, clock_,
                                            api::JobService::Options{.prefix = keys_.prefix()});
  server_ = std::make_unique<api::ApiServer>(*jobs_, api::ApiServer::Options{});
  if (!options_.ui_dir.empty()) {
    HG_RETURN_IF_ERROR(server_->MountStatic("/ui/", options_.ui_dir));
  }
  HG_RETURN_IF_ERROR(server_->Start(options_.http_listen));
  port_ = server_->port();
  // Announce the address clients can use (the bound port when listening on port 0).
  master::Master::Options mo = options_.master;
  if (mo.address.size() > 2 && mo.address.substr(mo.address.size() - 2) == ":0") {
    mo.address = absl::StrCat(mo.address.substr(0, mo.address.size() - 1), port_);
  }
  master_ = std::make_unique<master::Master>(kv_, clock_, keys_, workers_, mo);
  master_->Start();
  return absl::OkStatus();
}

void MasterNode::Stop() {
  if (master_) master_->Stop();  // resign first: a standby takes over at once
  if (server_) server_->Stop();
}

std::string MasterNode::http_address() const {
  const std::string& l = options_.http_listen;
  const size_t colon = l.rfind(':');
  return absl::StrCat(colon == std::string::npos ? l : l.substr(0, colon), ":", port_);
}

}  // namespace hg::app
