"""The PFN wavefier computes for a DID on a deterministic RSE (lfn2pfn `hash`, Rucio's default).

Kept free of Rucio imports so that the repository's tests can check it against wavefier's own
lfn2pfn (test/unit/docker-stack.test.ts runs `python3 pfn.py PROTOCOL_JSON SCOPE NAME`).
Python 3.9.
"""

import hashlib
import json
import sys


def expected_pfn(protocol, scope, name):
    digest = hashlib.md5(('%s:%s' % (scope, name)).encode()).hexdigest()
    directory = scope.replace('.', '/') if scope.startswith(('user', 'group')) else scope
    prefix = protocol.get('prefix') or ''
    prefix = prefix if prefix.startswith('/') else '/' + prefix
    prefix = prefix if prefix.endswith('/') else prefix + '/'
    port = '' if int(protocol['port']) == 0 else ':%d' % int(protocol['port'])
    return '%s://%s%s%s%s/%s/%s/%s' % (
        protocol['scheme'], protocol['hostname'], port, prefix, directory, digest[0:2], digest[2:4], name)


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.stderr.write('usage: pfn.py PROTOCOL_JSON SCOPE NAME\n')
        sys.exit(2)
    print(expected_pfn(json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]))
