# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_smcache_global_optspecs
    string join \n region= profile= endpoint-url= cache-dir= no-cache refresh-interval= max-cache-size= retry-base= retry-growth= retry-max= default-stage= max-stale= v/verbose q/quiet h/help V/version
end

function __fish_smcache_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_smcache_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_smcache_using_subcommand
    set -l cmd (__fish_smcache_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c smcache -n "__fish_smcache_needs_command" -l region -d 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile\'s]' -r
complete -c smcache -n "__fish_smcache_needs_command" -l profile -d 'AWS named profile' -r
complete -c smcache -n "__fish_smcache_needs_command" -l endpoint-url -d 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]' -r
complete -c smcache -n "__fish_smcache_needs_command" -l cache-dir -d 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]' -r -F
complete -c smcache -n "__fish_smcache_needs_command" -l refresh-interval -d 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]' -r
complete -c smcache -n "__fish_smcache_needs_command" -l max-cache-size -d 'Most secrets kept; least recently used goes first; 0 caches nothing' -r
complete -c smcache -n "__fish_smcache_needs_command" -l retry-base -d 'Back-off after the first failure' -r
complete -c smcache -n "__fish_smcache_needs_command" -l retry-growth -d 'Back-off after the n-th consecutive failure is base * F^(n-1)' -r
complete -c smcache -n "__fish_smcache_needs_command" -l retry-max -d 'Back-off cap' -r
complete -c smcache -n "__fish_smcache_needs_command" -l default-stage -d 'Stage used when none is asked for' -r
complete -c smcache -n "__fish_smcache_needs_command" -l max-stale -d 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached' -r
complete -c smcache -n "__fish_smcache_needs_command" -l no-cache -d 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
complete -c smcache -n "__fish_smcache_needs_command" -s v -l verbose -d 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
complete -c smcache -n "__fish_smcache_needs_command" -s q -l quiet -d 'No warnings, errors only'
complete -c smcache -n "__fish_smcache_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smcache -n "__fish_smcache_needs_command" -s V -l version -d 'Print version'
complete -c smcache -n "__fish_smcache_needs_command" -f -a "get" -d 'Print a secret\'s value'
complete -c smcache -n "__fish_smcache_needs_command" -f -a "env" -d 'Put secrets into environment variables, for a command or for `eval`'
complete -c smcache -n "__fish_smcache_needs_command" -f -a "purge" -d 'Remove cached secrets: all, or the ones named'
complete -c smcache -n "__fish_smcache_needs_command" -f -a "status" -d 'Show what is cached, never a value'
complete -c smcache -n "__fish_smcache_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c smcache -n "__fish_smcache_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c smcache -n "__fish_smcache_using_subcommand get" -l stage -d 'The version carrying stage S [default: --default-stage]' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l version-id -d 'That exact version; wins over --stage' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l json-key -d 'Print top-level key K of the JSON SecretString (strings raw, other values as JSON)' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l output -d 'Output format' -r -f -a "text\t'The SecretString and a newline'
json\t'A GetSecretValue-shaped object'"
complete -c smcache -n "__fish_smcache_using_subcommand get" -l region -d 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile\'s]' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l profile -d 'AWS named profile' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l endpoint-url -d 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l cache-dir -d 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]' -r -F
complete -c smcache -n "__fish_smcache_using_subcommand get" -l refresh-interval -d 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l max-cache-size -d 'Most secrets kept; least recently used goes first; 0 caches nothing' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l retry-base -d 'Back-off after the first failure' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l retry-growth -d 'Back-off after the n-th consecutive failure is base * F^(n-1)' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l retry-max -d 'Back-off cap' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l default-stage -d 'Stage used when none is asked for' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l max-stale -d 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached' -r
complete -c smcache -n "__fish_smcache_using_subcommand get" -l binary -d 'Write SecretBinary\'s raw bytes to stdout, nothing added'
complete -c smcache -n "__fish_smcache_using_subcommand get" -l refresh -d 'Check Secrets Manager now, whatever the refresh interval or back-off'
complete -c smcache -n "__fish_smcache_using_subcommand get" -s n -l no-newline -d 'No trailing newline'
complete -c smcache -n "__fish_smcache_using_subcommand get" -l no-cache -d 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
complete -c smcache -n "__fish_smcache_using_subcommand get" -s v -l verbose -d 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
complete -c smcache -n "__fish_smcache_using_subcommand get" -s q -l quiet -d 'No warnings, errors only'
complete -c smcache -n "__fish_smcache_using_subcommand get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smcache -n "__fish_smcache_using_subcommand env" -s e -l var -d 'NAME gets the whole SecretString, or top-level key KEY of its JSON object' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -s s -l secret -d 'Every top-level key of a JSON-object secret becomes a variable (any other secret: one variable named after the last `/` part of its id)' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l prefix -d 'Prepended to every name made by --secret' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l stage -d 'The version carrying stage S [default: --default-stage]' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l version-id -d 'That exact version; wins over --stage' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l format -d 'Without COMMAND: how to print the variables' -r -f -a "shell\t'`export NAME=\'value\'` lines, safe to eval'
dotenv\t'`NAME="value"` lines for dotenv loaders'
json\t'One JSON object of strings'"
complete -c smcache -n "__fish_smcache_using_subcommand env" -l region -d 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile\'s]' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l profile -d 'AWS named profile' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l endpoint-url -d 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l cache-dir -d 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]' -r -F
complete -c smcache -n "__fish_smcache_using_subcommand env" -l refresh-interval -d 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l max-cache-size -d 'Most secrets kept; least recently used goes first; 0 caches nothing' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l retry-base -d 'Back-off after the first failure' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l retry-growth -d 'Back-off after the n-th consecutive failure is base * F^(n-1)' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l retry-max -d 'Back-off cap' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l default-stage -d 'Stage used when none is asked for' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l max-stale -d 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached' -r
complete -c smcache -n "__fish_smcache_using_subcommand env" -l no-cache -d 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
complete -c smcache -n "__fish_smcache_using_subcommand env" -s v -l verbose -d 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
complete -c smcache -n "__fish_smcache_using_subcommand env" -s q -l quiet -d 'No warnings, errors only'
complete -c smcache -n "__fish_smcache_using_subcommand env" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l region -d 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile\'s]' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l profile -d 'AWS named profile' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l endpoint-url -d 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l cache-dir -d 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]' -r -F
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l refresh-interval -d 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l max-cache-size -d 'Most secrets kept; least recently used goes first; 0 caches nothing' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l retry-base -d 'Back-off after the first failure' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l retry-growth -d 'Back-off after the n-th consecutive failure is base * F^(n-1)' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l retry-max -d 'Back-off cap' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l default-stage -d 'Stage used when none is asked for' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l max-stale -d 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached' -r
complete -c smcache -n "__fish_smcache_using_subcommand purge" -l no-cache -d 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
complete -c smcache -n "__fish_smcache_using_subcommand purge" -s v -l verbose -d 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
complete -c smcache -n "__fish_smcache_using_subcommand purge" -s q -l quiet -d 'No warnings, errors only'
complete -c smcache -n "__fish_smcache_using_subcommand purge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smcache -n "__fish_smcache_using_subcommand status" -l output -d 'Output format' -r -f -a "text\t'An aligned table'
json\t'An array of objects'"
complete -c smcache -n "__fish_smcache_using_subcommand status" -l region -d 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile\'s]' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l profile -d 'AWS named profile' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l endpoint-url -d 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l cache-dir -d 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]' -r -F
complete -c smcache -n "__fish_smcache_using_subcommand status" -l refresh-interval -d 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l max-cache-size -d 'Most secrets kept; least recently used goes first; 0 caches nothing' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l retry-base -d 'Back-off after the first failure' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l retry-growth -d 'Back-off after the n-th consecutive failure is base * F^(n-1)' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l retry-max -d 'Back-off cap' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l default-stage -d 'Stage used when none is asked for' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l max-stale -d 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached' -r
complete -c smcache -n "__fish_smcache_using_subcommand status" -l no-cache -d 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
complete -c smcache -n "__fish_smcache_using_subcommand status" -s v -l verbose -d 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
complete -c smcache -n "__fish_smcache_using_subcommand status" -s q -l quiet -d 'No warnings, errors only'
complete -c smcache -n "__fish_smcache_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l region -d 'AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile\'s]' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l profile -d 'AWS named profile' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l endpoint-url -d 'Secrets Manager endpoint, for emulators and VPC endpoints [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l cache-dir -d 'Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]' -r -F
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l refresh-interval -d 'Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l max-cache-size -d 'Most secrets kept; least recently used goes first; 0 caches nothing' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l retry-base -d 'Back-off after the first failure' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l retry-growth -d 'Back-off after the n-th consecutive failure is base * F^(n-1)' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l retry-max -d 'Back-off cap' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l default-stage -d 'Stage used when none is asked for' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l max-stale -d 'How long past its refresh time a cached value may still be served when Secrets Manager cannot be reached' -r
complete -c smcache -n "__fish_smcache_using_subcommand completions" -l no-cache -d 'Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]'
complete -c smcache -n "__fish_smcache_using_subcommand completions" -s v -l verbose -d 'More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]'
complete -c smcache -n "__fish_smcache_using_subcommand completions" -s q -l quiet -d 'No warnings, errors only'
complete -c smcache -n "__fish_smcache_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smcache -n "__fish_smcache_using_subcommand help; and not __fish_seen_subcommand_from get env purge status completions help" -f -a "get" -d 'Print a secret\'s value'
complete -c smcache -n "__fish_smcache_using_subcommand help; and not __fish_seen_subcommand_from get env purge status completions help" -f -a "env" -d 'Put secrets into environment variables, for a command or for `eval`'
complete -c smcache -n "__fish_smcache_using_subcommand help; and not __fish_seen_subcommand_from get env purge status completions help" -f -a "purge" -d 'Remove cached secrets: all, or the ones named'
complete -c smcache -n "__fish_smcache_using_subcommand help; and not __fish_seen_subcommand_from get env purge status completions help" -f -a "status" -d 'Show what is cached, never a value'
complete -c smcache -n "__fish_smcache_using_subcommand help; and not __fish_seen_subcommand_from get env purge status completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c smcache -n "__fish_smcache_using_subcommand help; and not __fish_seen_subcommand_from get env purge status completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
