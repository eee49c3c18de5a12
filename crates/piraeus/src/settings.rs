//! Command-line flags from the settings `piraeus-core` defines: each flag also reads its
//! `PIRAEUS_*` variable and shows its default, exactly as the Lambda functions read them.

use clap::{Arg, ArgAction, ArgMatches};
use piraeus_core::settings::Setting;

/// The flag for `setting`, validated by the setting's own parser.
pub fn flag<T: Clone + Send + Sync + 'static>(setting: &'static Setting<T>) -> Arg {
    Arg::new(setting.flag)
        .long(setting.flag)
        .env(setting.env)
        .help(setting.help)
        .default_value(setting.default)
        .value_parser(setting.parse)
}

/// The flag for an on/off setting: `--NAME` alone turns it on; `--NAME=false` or the variable
/// set to `false` leaves it off.
pub fn switch(setting: &'static Setting<bool>) -> Arg {
    flag(setting)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
}

/// The flag for a setting whose value is a list: it may be given several times, each value
/// parsed by the setting's parser (which also reads the variable's comma-separated list).
pub fn repeatable_flag<T: Clone + Send + Sync + 'static>(setting: &'static Setting<Vec<T>>) -> Arg {
    flag(setting).action(ArgAction::Append)
}

/// Every entry of a flag made by [`repeatable_flag`], in order: the given values', else the
/// variable's, else the default's.
pub fn all<T: Clone + Send + Sync + 'static>(
    matches: &ArgMatches,
    setting: &Setting<Vec<T>>,
) -> Vec<T> {
    matches
        .get_many::<Vec<T>>(setting.flag)
        .into_iter()
        .flatten()
        .flatten()
        .cloned()
        .collect()
}

/// The parsed value of a flag made by [`flag`]; `None` when it was not given and has no default.
pub fn value<T: Clone + Send + Sync + 'static>(
    matches: &ArgMatches,
    setting: &Setting<T>,
) -> Option<T> {
    matches.get_one::<T>(setting.flag).cloned()
}

/// The value of a flag with a default, or a required one.
pub fn given<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, setting: &Setting<T>) -> T {
    value(matches, setting).expect("clap supplies defaults and enforces required flags")
}
