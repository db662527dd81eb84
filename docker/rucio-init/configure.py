"""Configures the stack's Rucio through its REST API, as root (python3 configure.py rses.json).

Idempotent: every object that already exists is left in place (protocols and distances are
updated to the declared values), so the one-shot service can run on every `docker compose up`.
Ends by asking the server for the PFN of a probe DID on each RSE and comparing it with the
deterministic `hash` path wavefier computes itself; a mismatch stops the stack from converging.
Settings come from rses.json and the WAVEFIER_ACCOUNT_* variables. Python 3.9.
"""

import json
import os
import sys

from rucio.client import Client
from rucio.common.exception import Duplicate

from pfn import expected_pfn


def say(message):
    print('rucio-init: ' + message, flush=True)


def ignore_duplicate(what, action):
    try:
        action()
        say('added ' + what)
    except Duplicate:
        say(what + ' already present')


def main(path):
    with open(path) as handle:
        spec = json.load(handle)
    account = os.environ.get('WAVEFIER_ACCOUNT', 'wavefier')
    username = os.environ.get('WAVEFIER_ACCOUNT_USERNAME', account)
    password = os.environ.get('WAVEFIER_ACCOUNT_PASSWORD')
    email = os.environ.get('WAVEFIER_ACCOUNT_EMAIL', account + '@localhost')
    if not password:
        say('WAVEFIER_ACCOUNT_PASSWORD is not set; set it in docker/compose.yaml (rucio-init environment)')
        return 2

    client = Client()
    say('authenticated as %s' % client.whoami()['account'])

    ignore_duplicate('account ' + account, lambda: client.add_account(account, 'USER', email))
    ignore_duplicate(
        'userpass identity %s of %s' % (username, account),
        lambda: client.add_identity(account=account, identity=username, authtype='USERPASS',
                                    email=email, default=True, password=password))
    scope = spec['scope']
    ignore_duplicate('scope ' + scope['name'],
                     lambda: client.add_scope(account=scope['account'], scope=scope['name']))

    limit = int(spec['account_limit_bytes'])
    for rse in spec['rses']:
        name = rse['name']
        ignore_duplicate('RSE ' + name, lambda: client.add_rse(name, **rse['settings']))
        for key, value in sorted(rse['attributes'].items()):
            client.add_rse_attribute(name, key, value)
        say('%s attributes: %s' % (name, ', '.join(sorted(rse['attributes']))))
        for protocol in rse['protocols']:
            try:
                client.add_protocol(name, protocol)
                say('%s protocol %s://%s:%s added' % (name, protocol['scheme'], protocol['hostname'], protocol['port']))
            except Duplicate:
                update = dict((k, v) for k, v in protocol.items() if k not in ('scheme', 'hostname', 'port'))
                client.update_protocols(name, protocol['scheme'], update,
                                        hostname=protocol['hostname'], port=protocol['port'])
                say('%s protocol %s://%s:%s updated' % (name, protocol['scheme'], protocol['hostname'], protocol['port']))
        for holder in ('root', account):
            client.set_local_account_limit(holder, name, limit)
        say('%s account limits set for root and %s' % (name, account))

    for distance in spec['distances']:
        parameters = {'distance': int(distance['distance'])}
        try:
            client.add_distance(distance['source'], distance['destination'], parameters)
        except Duplicate:
            client.update_distance(distance['source'], distance['destination'], parameters)
        say('distance %s -> %s = %d' % (distance['source'], distance['destination'], parameters['distance']))

    failures = 0
    probe = 'V-V1_WAVEFIER_PROBE-1000000000-1.hdf5'
    for rse in spec['rses']:
        for protocol in rse['protocols']:
            did = '%s:%s' % (scope['name'], probe)
            answer = client.lfns2pfns(rse['name'], [did], protocol_domain='wan', operation='write',
                                     scheme=protocol['scheme'])
            wanted = expected_pfn(protocol, scope['name'], probe)
            if answer.get(did) != wanted:
                say('%s: the server builds %s but wavefier expects %s; check the protocol in rses.json'
                    % (rse['name'], answer.get(did), wanted))
                failures += 1
            else:
                say('%s: PFNs agree (%s)' % (rse['name'], wanted))
    return 1 if failures else 0


if __name__ == '__main__':
    if len(sys.argv) != 2:
        say('usage: configure.py RSES_JSON')
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
