// Every atom of the rouse actor protocol. An atom names the operation; the
// payload is a struct from messages/. Texts are at most 10 characters and must
// agree across nodes.
#pragma once

#include <caf/atom.hpp>

namespace rouse {

/// To a router shard: committed events to decide (through_seq, events).
using route_atom = caf::atom_constant<caf::atom("route")>;
/// To a router shard, from its journal callback: its decision was committed.
using routed_atom = caf::atom_constant<caf::atom("routed")>;
/// To a router shard: retry a decision whose commit failed.
using retry_atom = caf::atom_constant<caf::atom("retry")>;
/// To a governor: a new pending run of its trigger.
using admit_atom = caf::atom_constant<caf::atom("admit")>;
/// To a governor: a run of its trigger finished; its slot is free.
using release_atom = caf::atom_constant<caf::atom("release")>;
/// To the dispatcher: start this admitted run.
using launch_atom = caf::atom_constant<caf::atom("launch")>;
/// To the dispatcher: the run's `running` state was committed; call the
/// handler.
using started_atom = caf::atom_constant<caf::atom("started")>;
/// To the dispatcher: the handler answered.
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;
/// To a handler: execute one attempt of a run.
using run_atom = caf::atom_constant<caf::atom("run")>;
/// To an exec handler, from its process runner: a process finished.
using exited_atom = caf::atom_constant<caf::atom("exited")>;
/// Gives a governor new flow policies (its trigger changed).
using limit_atom = caf::atom_constant<caf::atom("limit")>;
/// To a governor, from itself: a debounce or batch window closed, or a rate
/// token came (a generation number tells the live timer from stale ones).
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// To the dispatcher, from a governor: store a run as skipped or dead (flow
/// control decided not to run it).
using skip_atom = caf::atom_constant<caf::atom("skip")>;
/// To the dispatcher, from a governor: store a batch run and its members,
/// then admit the batch again.
using batch_atom = caf::atom_constant<caf::atom("batch")>;
/// To the dispatcher, from a governor: publish an event about the trigger
/// (rouse.trigger.circuit_open / circuit_closed, rouse.budget.exceeded).
using notice_atom = caf::atom_constant<caf::atom("notice")>;
/// To the timer service: these wakeups were committed; hold the soonest.
using arm_atom = caf::atom_constant<caf::atom("arm")>;
/// To the timer service: these wakeups' deletion was committed; forget them.
using disarm_atom = caf::atom_constant<caf::atom("disarm")>;
/// To the timer service, from itself: fire what is due (a generation number
/// tells the live timer from stale ones).
using fire_atom = caf::atom_constant<caf::atom("fire")>;
/// To the dispatcher: wake a waiting run (its wakeup fired, an event matched
/// its wait, or someone asked).
using wake_atom = caf::atom_constant<caf::atom("wake")>;
/// To the dispatcher, from a running run (`rouse wake-me`): when this attempt
/// succeeds without asking for a wait itself, sleep until the given time.
using wake_me_atom = caf::atom_constant<caf::atom("wakeme")>;
/// To the dispatcher: cancel a waiting, pending or retrying run.
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
/// To the dispatcher: watch for the event a stored waiting run waits for
/// (recovery).
using wait_atom = caf::atom_constant<caf::atom("wait")>;
/// To the dispatcher, from its journal callback: a run's waiting state was
/// committed.
using waited_atom = caf::atom_constant<caf::atom("waited")>;
/// To the dispatcher, from its journal callback: a wake or cancel was
/// committed.
using settled_atom = caf::atom_constant<caf::atom("settled")>;
/// To a governor (`rouse triggers resume`): forget what the budget spent in
/// the current window so held runs start.
using resume_atom = caf::atom_constant<caf::atom("resume")>;
/// To an exec handler: stop the process of a run (SIGTERM, then SIGKILL).
/// To the dispatcher, from a governor: stop a running run (singleton cancel).
using stop_atom = caf::atom_constant<caf::atom("stop")>;
/// To a governor: what its budget keys spent in the current window.
using spent_atom = caf::atom_constant<caf::atom("spent")>;

} // namespace rouse
