#!/usr/bin/env python3
"""Adds lockfile entries for workerd's macOS and Windows builds when the registry this
project installs from does not carry them (npm then leaves them out of package-lock.json and
`npm ci` refuses the lock). The entries have no integrity: on those platforms npm fetches and
checks them normally; on Linux they are skipped by their os/cpu fields."""
import json, sys

path = sys.argv[1] if len(sys.argv) > 1 else 'package-lock.json'
lock = json.load(open(path))
packages = lock['packages']
platforms = {
    'darwin-64': (['darwin'], ['x64']),
    'darwin-arm64': (['darwin'], ['arm64']),
    'windows-64': (['win32'], ['x64']),
}
added = 0
for key, entry in list(packages.items()):
    if not key.endswith('node_modules/workerd'):
        continue
    prefix = key[: -len('workerd')]
    for name, version in entry.get('optionalDependencies', {}).items():
        suffix = name.split('/workerd-')[-1]
        target = f'{prefix}{name}'
        if suffix in platforms and target not in packages:
            os_, cpu = platforms[suffix]
            packages[target] = {'version': version, 'cpu': cpu, 'dev': True, 'license': 'Apache-2.0', 'optional': True, 'os': os_, 'engines': {'node': '>=16'}}
            added += 1
lock['packages'] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != '', kv[0])))
json.dump(lock, open(path, 'w'), indent=2)
open(path, 'a').write('\n')
print(f'added {added} platform entries')
