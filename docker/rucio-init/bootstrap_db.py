"""Creates the Rucio schema and the root account, once.

The official rucio-init image runs build_database/create_base_vo/create_root_account
unconditionally, which fails on a database that already has them; `docker compose up`
starts this one-shot service on every start, so each step runs only when it is missing.
Reads /opt/rucio/etc/rucio.cfg ([database], [bootstrap], [alembic]). Python 3.9.
"""

import sys

from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from rucio.db.sqla.session import get_engine
from rucio.db.sqla.util import build_database, create_base_vo, create_root_account


def main():
    engine = get_engine()
    if inspect(engine).has_table('accounts'):
        print('rucio-init: schema already present')
    else:
        print('rucio-init: empty database, creating the schema')
        build_database()
    # Plain SQL: core helpers changed their session arguments across releases. In the
    # default VO the stored account name is the plain name.
    with engine.connect() as conn:
        root = conn.execute(text("SELECT 1 FROM accounts WHERE account = 'root'")).first()
    if root is not None:
        print('rucio-init: root account already present')
        return 0
    try:
        create_base_vo()
    except IntegrityError:
        print('rucio-init: base VO already present')
    create_root_account()
    print('rucio-init: root account created with its userpass identity')
    return 0


if __name__ == '__main__':
    sys.exit(main())
