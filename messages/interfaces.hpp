// Every typed actor interface of rouse. Include this (not caf/all.hpp) where
// handles are needed; the behaviors live in actors/.
#pragma once

#include "messages/atoms.hpp"
#include "messages/event.hpp"
#include "messages/flow.hpp"
#include "messages/handler.hpp"
#include "messages/run.hpp"
#include "messages/wakeup.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rouse {

/// A handler: executes one attempt of a run and answers with its outcome. Exec
/// handlers implement it; embedding programs register their own actors with
/// this interface.
using handler_actor =
    caf::typed_actor<caf::replies_to<run_atom, run_request>::with<run_outcome>>;

/// The exec handler: a handler plus the completions its process runner posts
/// back, and stopping a run's process (run id, reason): its outcome then has
/// `cancelled`.
using exec_handler_actor =
    handler_actor::extend<caf::reacts_to<exited_atom, uint64_t, run_outcome>,
                          caf::reacts_to<stop_atom, std::string, std::string>>;

/// A router shard: decides which triggers committed events fire, in journal
/// order.
using router_shard_actor =
    caf::typed_actor<caf::reacts_to<route_atom, uint64_t, std::vector<event>>,
                     caf::reacts_to<routed_atom, bool, std::vector<run_record>>,
                     caf::reacts_to<retry_atom>>;

/// Receives budget usage on the governor's thread; local only.
using budget_reply = std::function<void(std::vector<budget_usage>)>;

/// A governor: admits a trigger's pending runs under its flow-control policy.
/// A release carries the attempt's outcome (-1 none: it waits; 0 failed; 1
/// succeeded) and the cost it reported (< 0: none). A resume names a budget
/// key, or every key with `all`, and answers with the keys reset.
using governor_actor = caf::typed_actor<
    caf::reacts_to<admit_atom, run_record>,
    caf::reacts_to<release_atom, std::string>,
    caf::reacts_to<release_atom, std::string, int8_t, double>,
    caf::reacts_to<limit_atom, flow_settings>,
    caf::reacts_to<tick_atom, uint64_t>,
    caf::reacts_to<resume_atom, std::string, bool, budget_reply>,
    caf::reacts_to<spent_atom, budget_reply>>;

/// The answer to a wake or cancel request: an HTTP status and a JSON body.
/// Called on the dispatcher's thread; local only (never sent to other nodes).
using run_reply = std::function<void(int, std::string)>;

/// The dispatcher: moves admitted runs through running to their outcome, and
/// waiting runs back to pending when they wake.
using dispatcher_actor = caf::typed_actor<
    caf::reacts_to<launch_atom, run_record>,
    caf::reacts_to<skip_atom, run_record, uint8_t, std::string>,
    caf::reacts_to<batch_atom, run_record, std::vector<run_record>>,
    caf::reacts_to<notice_atom, std::string, std::string, std::string,
                   std::string>,
    caf::reacts_to<started_atom, bool, run_record>,
    caf::reacts_to<outcome_atom, run_record, run_outcome>,
    caf::reacts_to<waited_atom, bool, run_record>,
    caf::reacts_to<wake_atom, wake_request, run_reply>,
    caf::reacts_to<cancel_atom, std::string, run_reply>,
    caf::reacts_to<stop_atom, std::string, std::string>,
    caf::reacts_to<wake_me_atom, std::string, int64_t, std::string, run_reply>,
    caf::reacts_to<settled_atom, bool, run_record, run_reply, int64_t>,
    caf::reacts_to<wait_atom, run_record>,
    caf::reacts_to<route_atom, uint64_t, std::vector<event>>>;

/// The timer service: holds the soonest committed wakeups and hands them to
/// their owners when due. Senders arm and disarm only after their journal
/// commit.
using timer_service_actor =
    caf::typed_actor<caf::reacts_to<arm_atom, std::vector<wakeup>>,
                     caf::reacts_to<disarm_atom, std::vector<wakeup_key>>,
                     caf::reacts_to<fire_atom, uint64_t>>;

} // namespace rouse

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rouse::run_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rouse::budget_reply)
