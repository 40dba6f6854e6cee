
use builtin;
use str;

set edit:completion:arg-completer[smcache] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'smcache'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'smcache'= {
            cand --region 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]'
            cand --profile 'AWS named profile'
            cand --endpoint-url 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]'
            cand --cache-dir 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]'
            cand --refresh-interval 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]'
            cand --max-cache-size 'Most secrets kept; least recently used goes first; 0 caches nothing'
            cand --retry-base 'Back-off after the first failure'
            cand --retry-growth 'Back-off after the n-th consecutive failure is base * F^(n-1)'
            cand --retry-max 'Back-off cap'
            cand --default-stage 'Stage used when none is asked for'
            cand --max-stale 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached'
            cand --no-cache 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
            cand -v 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand --verbose 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand -q 'No warnings, errors only'
            cand --quiet 'No warnings, errors only'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand get 'Print a secret''s value'
            cand env 'Put secrets into environment variables, for a command or for `eval`'
            cand purge 'Remove cached secrets: all, or the ones named'
            cand status 'Show what is cached, never a value'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'smcache;get'= {
            cand --stage 'The version carrying stage S [default: --default-stage]'
            cand --version-id 'That exact version; wins over --stage'
            cand --json-key 'Print top-level key K of the JSON SecretString (strings raw, other values as JSON)'
            cand --output 'Output format'
            cand --region 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]'
            cand --profile 'AWS named profile'
            cand --endpoint-url 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]'
            cand --cache-dir 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]'
            cand --refresh-interval 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]'
            cand --max-cache-size 'Most secrets kept; least recently used goes first; 0 caches nothing'
            cand --retry-base 'Back-off after the first failure'
            cand --retry-growth 'Back-off after the n-th consecutive failure is base * F^(n-1)'
            cand --retry-max 'Back-off cap'
            cand --default-stage 'Stage used when none is asked for'
            cand --max-stale 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached'
            cand --binary 'Write SecretBinary''s raw bytes to stdout, nothing added'
            cand --refresh 'Check Secrets Manager now, whatever the refresh interval or back-off'
            cand -n 'No trailing newline'
            cand --no-newline 'No trailing newline'
            cand --no-cache 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
            cand -v 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand --verbose 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand -q 'No warnings, errors only'
            cand --quiet 'No warnings, errors only'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'smcache;env'= {
            cand -e 'NAME gets the whole SecretString, or top-level key KEY of its JSON object'
            cand --var 'NAME gets the whole SecretString, or top-level key KEY of its JSON object'
            cand -s 'Every top-level key of a JSON-object secret becomes a variable (any other secret: one variable named after the last `/` part of its id)'
            cand --secret 'Every top-level key of a JSON-object secret becomes a variable (any other secret: one variable named after the last `/` part of its id)'
            cand --prefix 'Prepended to every name made by --secret'
            cand --stage 'The version carrying stage S [default: --default-stage]'
            cand --version-id 'That exact version; wins over --stage'
            cand --format 'Without COMMAND: how to print the variables'
            cand --region 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]'
            cand --profile 'AWS named profile'
            cand --endpoint-url 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]'
            cand --cache-dir 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]'
            cand --refresh-interval 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]'
            cand --max-cache-size 'Most secrets kept; least recently used goes first; 0 caches nothing'
            cand --retry-base 'Back-off after the first failure'
            cand --retry-growth 'Back-off after the n-th consecutive failure is base * F^(n-1)'
            cand --retry-max 'Back-off cap'
            cand --default-stage 'Stage used when none is asked for'
            cand --max-stale 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached'
            cand --no-cache 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
            cand -v 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand --verbose 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand -q 'No warnings, errors only'
            cand --quiet 'No warnings, errors only'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'smcache;purge'= {
            cand --region 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]'
            cand --profile 'AWS named profile'
            cand --endpoint-url 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]'
            cand --cache-dir 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]'
            cand --refresh-interval 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]'
            cand --max-cache-size 'Most secrets kept; least recently used goes first; 0 caches nothing'
            cand --retry-base 'Back-off after the first failure'
            cand --retry-growth 'Back-off after the n-th consecutive failure is base * F^(n-1)'
            cand --retry-max 'Back-off cap'
            cand --default-stage 'Stage used when none is asked for'
            cand --max-stale 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached'
            cand --no-cache 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
            cand -v 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand --verbose 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand -q 'No warnings, errors only'
            cand --quiet 'No warnings, errors only'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'smcache;status'= {
            cand --output 'Output format'
            cand --region 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]'
            cand --profile 'AWS named profile'
            cand --endpoint-url 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]'
            cand --cache-dir 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]'
            cand --refresh-interval 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]'
            cand --max-cache-size 'Most secrets kept; least recently used goes first; 0 caches nothing'
            cand --retry-base 'Back-off after the first failure'
            cand --retry-growth 'Back-off after the n-th consecutive failure is base * F^(n-1)'
            cand --retry-max 'Back-off cap'
            cand --default-stage 'Stage used when none is asked for'
            cand --max-stale 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached'
            cand --no-cache 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
            cand -v 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand --verbose 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand -q 'No warnings, errors only'
            cand --quiet 'No warnings, errors only'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'smcache;completions'= {
            cand --region 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile''s]'
            cand --profile 'AWS named profile'
            cand --endpoint-url 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]'
            cand --cache-dir 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]'
            cand --refresh-interval 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]'
            cand --max-cache-size 'Most secrets kept; least recently used goes first; 0 caches nothing'
            cand --retry-base 'Back-off after the first failure'
            cand --retry-growth 'Back-off after the n-th consecutive failure is base * F^(n-1)'
            cand --retry-max 'Back-off cap'
            cand --default-stage 'Stage used when none is asked for'
            cand --max-stale 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached'
            cand --no-cache 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
            cand -v 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand --verbose 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
            cand -q 'No warnings, errors only'
            cand --quiet 'No warnings, errors only'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'smcache;help'= {
            cand get 'Print a secret''s value'
            cand env 'Put secrets into environment variables, for a command or for `eval`'
            cand purge 'Remove cached secrets: all, or the ones named'
            cand status 'Show what is cached, never a value'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'smcache;help;get'= {
        }
        &'smcache;help;env'= {
        }
        &'smcache;help;purge'= {
        }
        &'smcache;help;status'= {
        }
        &'smcache;help;completions'= {
        }
        &'smcache;help;help'= {
        }
    ]
    $completions[$command]
}
