
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'smcache' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'smcache'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'smcache' {
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS named profile')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]')
            [CompletionResult]::new('--refresh-interval', '--refresh-interval', [CompletionResultType]::ParameterName, 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]')
            [CompletionResult]::new('--max-cache-size', '--max-cache-size', [CompletionResultType]::ParameterName, 'Most secrets kept; least recently used goes first; 0 caches nothing')
            [CompletionResult]::new('--retry-base', '--retry-base', [CompletionResultType]::ParameterName, 'Back-off after the first failure')
            [CompletionResult]::new('--retry-growth', '--retry-growth', [CompletionResultType]::ParameterName, 'Back-off after the n-th consecutive failure is base * F^(n-1)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Back-off cap')
            [CompletionResult]::new('--default-stage', '--default-stage', [CompletionResultType]::ParameterName, 'Stage used when none is asked for')
            [CompletionResult]::new('--max-stale', '--max-stale', [CompletionResultType]::ParameterName, 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print a secret''s value')
            [CompletionResult]::new('env', 'env', [CompletionResultType]::ParameterValue, 'Put secrets into environment variables, for a command or for `eval`')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Remove cached secrets: all, or the ones named')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what is cached, never a value')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'smcache;get' {
            [CompletionResult]::new('--stage', '--stage', [CompletionResultType]::ParameterName, 'The version carrying stage S [default: --default-stage]')
            [CompletionResult]::new('--version-id', '--version-id', [CompletionResultType]::ParameterName, 'That exact version; wins over --stage')
            [CompletionResult]::new('--json-key', '--json-key', [CompletionResultType]::ParameterName, 'Print top-level key K of the JSON SecretString (strings raw, other values as JSON)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS named profile')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]')
            [CompletionResult]::new('--refresh-interval', '--refresh-interval', [CompletionResultType]::ParameterName, 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]')
            [CompletionResult]::new('--max-cache-size', '--max-cache-size', [CompletionResultType]::ParameterName, 'Most secrets kept; least recently used goes first; 0 caches nothing')
            [CompletionResult]::new('--retry-base', '--retry-base', [CompletionResultType]::ParameterName, 'Back-off after the first failure')
            [CompletionResult]::new('--retry-growth', '--retry-growth', [CompletionResultType]::ParameterName, 'Back-off after the n-th consecutive failure is base * F^(n-1)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Back-off cap')
            [CompletionResult]::new('--default-stage', '--default-stage', [CompletionResultType]::ParameterName, 'Stage used when none is asked for')
            [CompletionResult]::new('--max-stale', '--max-stale', [CompletionResultType]::ParameterName, 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached')
            [CompletionResult]::new('--binary', '--binary', [CompletionResultType]::ParameterName, 'Write SecretBinary''s raw bytes to stdout, nothing added')
            [CompletionResult]::new('--refresh', '--refresh', [CompletionResultType]::ParameterName, 'Check Secrets Manager now, whatever the refresh interval or back-off')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'No trailing newline')
            [CompletionResult]::new('--no-newline', '--no-newline', [CompletionResultType]::ParameterName, 'No trailing newline')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'smcache;env' {
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'NAME gets the whole SecretString, or top-level key KEY of its JSON object')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'NAME gets the whole SecretString, or top-level key KEY of its JSON object')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Every top-level key of a JSON-object secret becomes a variable (any other secret: one variable named after the last `/` part of its id)')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Every top-level key of a JSON-object secret becomes a variable (any other secret: one variable named after the last `/` part of its id)')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'Prepended to every name made by --secret')
            [CompletionResult]::new('--stage', '--stage', [CompletionResultType]::ParameterName, 'The version carrying stage S [default: --default-stage]')
            [CompletionResult]::new('--version-id', '--version-id', [CompletionResultType]::ParameterName, 'That exact version; wins over --stage')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Without COMMAND: how to print the variables')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS named profile')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]')
            [CompletionResult]::new('--refresh-interval', '--refresh-interval', [CompletionResultType]::ParameterName, 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]')
            [CompletionResult]::new('--max-cache-size', '--max-cache-size', [CompletionResultType]::ParameterName, 'Most secrets kept; least recently used goes first; 0 caches nothing')
            [CompletionResult]::new('--retry-base', '--retry-base', [CompletionResultType]::ParameterName, 'Back-off after the first failure')
            [CompletionResult]::new('--retry-growth', '--retry-growth', [CompletionResultType]::ParameterName, 'Back-off after the n-th consecutive failure is base * F^(n-1)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Back-off cap')
            [CompletionResult]::new('--default-stage', '--default-stage', [CompletionResultType]::ParameterName, 'Stage used when none is asked for')
            [CompletionResult]::new('--max-stale', '--max-stale', [CompletionResultType]::ParameterName, 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'smcache;purge' {
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS named profile')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]')
            [CompletionResult]::new('--refresh-interval', '--refresh-interval', [CompletionResultType]::ParameterName, 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]')
            [CompletionResult]::new('--max-cache-size', '--max-cache-size', [CompletionResultType]::ParameterName, 'Most secrets kept; least recently used goes first; 0 caches nothing')
            [CompletionResult]::new('--retry-base', '--retry-base', [CompletionResultType]::ParameterName, 'Back-off after the first failure')
            [CompletionResult]::new('--retry-growth', '--retry-growth', [CompletionResultType]::ParameterName, 'Back-off after the n-th consecutive failure is base * F^(n-1)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Back-off cap')
            [CompletionResult]::new('--default-stage', '--default-stage', [CompletionResultType]::ParameterName, 'Stage used when none is asked for')
            [CompletionResult]::new('--max-stale', '--max-stale', [CompletionResultType]::ParameterName, 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'smcache;status' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS named profile')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]')
            [CompletionResult]::new('--refresh-interval', '--refresh-interval', [CompletionResultType]::ParameterName, 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]')
            [CompletionResult]::new('--max-cache-size', '--max-cache-size', [CompletionResultType]::ParameterName, 'Most secrets kept; least recently used goes first; 0 caches nothing')
            [CompletionResult]::new('--retry-base', '--retry-base', [CompletionResultType]::ParameterName, 'Back-off after the first failure')
            [CompletionResult]::new('--retry-growth', '--retry-growth', [CompletionResultType]::ParameterName, 'Back-off after the n-th consecutive failure is base * F^(n-1)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Back-off cap')
            [CompletionResult]::new('--default-stage', '--default-stage', [CompletionResultType]::ParameterName, 'Stage used when none is asked for')
            [CompletionResult]::new('--max-stale', '--max-stale', [CompletionResultType]::ParameterName, 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'smcache;completions' {
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS named profile')
            [CompletionResult]::new('--endpoint-url', '--endpoint-url', [CompletionResultType]::ParameterName, 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]')
            [CompletionResult]::new('--refresh-interval', '--refresh-interval', [CompletionResultType]::ParameterName, 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]')
            [CompletionResult]::new('--max-cache-size', '--max-cache-size', [CompletionResultType]::ParameterName, 'Most secrets kept; least recently used goes first; 0 caches nothing')
            [CompletionResult]::new('--retry-base', '--retry-base', [CompletionResultType]::ParameterName, 'Back-off after the first failure')
            [CompletionResult]::new('--retry-growth', '--retry-growth', [CompletionResultType]::ParameterName, 'Back-off after the n-th consecutive failure is base * F^(n-1)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Back-off cap')
            [CompletionResult]::new('--default-stage', '--default-stage', [CompletionResultType]::ParameterName, 'Stage used when none is asked for')
            [CompletionResult]::new('--max-stale', '--max-stale', [CompletionResultType]::ParameterName, 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No warnings, errors only')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'smcache;help' {
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print a secret''s value')
            [CompletionResult]::new('env', 'env', [CompletionResultType]::ParameterValue, 'Put secrets into environment variables, for a command or for `eval`')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Remove cached secrets: all, or the ones named')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what is cached, never a value')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'smcache;help;get' {
            break
        }
        'smcache;help;env' {
            break
        }
        'smcache;help;purge' {
            break
        }
        'smcache;help;status' {
            break
        }
        'smcache;help;completions' {
            break
        }
        'smcache;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
