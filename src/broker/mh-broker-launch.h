/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host's launch through the key broker, the same for the libvirt hook
 * (QMP on the owner monitor, during an incoming migration) and for
 * "virt-mh start" (libvirt's SEV API, for a first launch): a bundle for
 * this host's platform, then the launch's report in exchange for the
 * sealed secret, which is injected as it came. The host sees the packet,
 * never the key inside. */
#pragma once

#include "broker/mh-broker.h"
#include "broker/mh-broker-client.h"
#include "owner/mh-owner-launch.h"
#include "owner/mh-sev-chain.h"

/* 'current_session' (may be NULL): the session the domain's definition
 * carries; out->current says the broker let it stand (mhBrokerIssueBundle). */
bool mhBrokerRequestBundle(MhBrokerClient *client, const char *uuid, const MhSevChain *chain,
                           const char *current_session, MhBrokerBundle *out, GError **error);
bool mhBrokerAttestInject(MhBrokerClient *client, const char *launch_id,
                          const MhOwnerLaunch *launch, MhOwnerLaunchReport *report,
                          GError **error);
