//! The keys of spec format 1 and their types: the one description that checking
//! (validate.rs) and merging (merge.rs) follow.

/// What a string must be, beyond being a string (see values.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Any,
    NonEmpty,
    AbsPath,
    /// An absolute path that also reaches /etc/passwd (the user's home) or PATH
    /// (`workdir`, `venv`): no `:`.
    ImagePath,
    RelPath,
    RelFile,
    Package,
    /// Tier, service and build step names.
    Name,
    EnvName,
    ImageRef,
    /// A package index: a URL without credentials.
    IndexUrl,
    GitUrl,
    GitRef,
    Installer,
    User,
    Interpreter,
    Duration,
    /// A BuildKit secret id (`[[build]] secrets`, git auth secrets).
    SecretId,
}

/// Which named tables a `Named` key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamedKind {
    /// `[services.NAME]` at the top level.
    Services,
    /// `[variants.NAME]`.
    Variants,
    /// `[variants.V.services.NAME]`: NAME must be a declared service.
    VariantServices,
}

#[derive(Clone, Copy)]
pub(crate) enum Ty {
    Str(Check),
    Bool,
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    /// An array of strings, each checked.
    List(Check),
    /// A non-empty array of strings.
    NonEmptyList(Check),
    /// A table of strings (env, labels, outputs); merges key by key.
    Map {
        key: Check,
        value: Check,
    },
    /// A sub-table; merges key by key.
    Table(&'static Schema),
    /// A table that is one setting (healthcheck, git): replaced as a whole.
    Atomic(&'static Schema),
    /// An array of tables; replaced as a whole. `unique`: a key whose value must
    /// differ between the tables.
    Tables {
        schema: &'static Schema,
        unique: Option<&'static str>,
    },
    /// Named sub-tables (`[services.NAME]`); merge name by name.
    Named {
        schema: &'static Schema,
        kind: NamedKind,
    },
    /// `expose`: integers or strings like "53/udp".
    Ports,
    /// `stop-signal`: a name or a number.
    Signal,
    /// `version`: the integer 1.
    Version,
    /// `[args]`: a table of strings, taken literally.
    Args,
}

impl Ty {
    /// "an array of strings", for "expected ..., found ...".
    pub fn expected(&self) -> &'static str {
        match self {
            Ty::Str(_) => "a string",
            Ty::Bool => "a boolean (`true` or `false`)",
            Ty::Int { .. } => "an integer",
            Ty::List(_) => "an array of strings",
            Ty::NonEmptyList(_) => "a non-empty array of strings",
            Ty::Map { .. } | Ty::Args => "a table of strings",
            Ty::Table(_) | Ty::Atomic(_) | Ty::Named { .. } => "a table",
            Ty::Tables { .. } => "an array of tables",
            Ty::Ports => "an array of ports (integers like `8000` or strings like `\"53/udp\"`)",
            Ty::Signal => "a signal name such as `\"SIGTERM\"` or a number",
            Ty::Version => "the integer 1",
        }
    }
}

pub(crate) struct Field {
    pub key: &'static str,
    pub ty: Ty,
}

pub(crate) struct Schema {
    /// For messages when the table has no path of its own.
    pub keys: &'static [Field],
    /// Keys that must be present (checked where the table is written, which is
    /// right for tables that are replaced as a whole).
    pub required: &'static [&'static str],
    /// At most one of these keys may be present.
    pub exactly_one: &'static [&'static str],
}

impl Schema {
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.keys.iter().find(|f| f.key == key)
    }

    pub fn key_names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|f| f.key).collect()
    }
}

const fn f(key: &'static str, ty: Ty) -> Field {
    Field { key, ty }
}

const fn plain(keys: &'static [Field]) -> Schema {
    Schema {
        keys,
        required: &[],
        exactly_one: &[],
    }
}

pub(crate) static IMAGE: Schema = plain(&[
    f("base", Ty::Str(Check::ImageRef)),
    f("builder", Ty::Str(Check::ImageRef)),
    f("workdir", Ty::Str(Check::ImagePath)),
    f("user", Ty::Str(Check::User)),
    f(
        "env",
        Ty::Map {
            key: Check::EnvName,
            value: Check::Any,
        },
    ),
    f(
        "labels",
        Ty::Map {
            key: Check::NonEmpty,
            value: Check::Any,
        },
    ),
    f(
        "uid",
        Ty::Int {
            min: 1,
            max: MAX_ID,
        },
    ),
    f(
        "gid",
        Ty::Int {
            min: 1,
            max: MAX_ID,
        },
    ),
]);

/// The largest uid/gid `[image]` takes: what Docker, Kubernetes and shadow's useradd
/// all accept (a positive 32-bit signed integer).
pub(crate) const MAX_ID: i64 = i32::MAX as i64;

pub(crate) static SYSTEM: Schema = plain(&[
    f("packages", Ty::List(Check::Package)),
    f("build-packages", Ty::List(Check::Package)),
]);

pub(crate) static TIER: Schema = Schema {
    keys: &[
        f("name", Ty::Str(Check::Name)),
        f("requirements", Ty::NonEmptyList(Check::RelFile)),
        f("index-url", Ty::Str(Check::IndexUrl)),
        f("extra-index-urls", Ty::List(Check::IndexUrl)),
        f("no-deps", Ty::Bool),
        f("dev", Ty::Bool),
        f("build-isolation", Ty::Bool),
        f(
            "env",
            Ty::Map {
                key: Check::EnvName,
                value: Check::Any,
            },
        ),
        f("build-constraints", Ty::NonEmptyList(Check::RelFile)),
        f("wheels", Ty::NonEmptyList(Check::Name)),
    ],
    // `requirements` or `wheels`: checked where the tier is lowered (lower.rs).
    required: &["name"],
    exactly_one: &[],
};

pub(crate) static PYTHON: Schema = plain(&[
    f("installer", Ty::Str(Check::Installer)),
    f("interpreter", Ty::Str(Check::Interpreter)),
    f("venv", Ty::Str(Check::ImagePath)),
    f("index-url", Ty::Str(Check::IndexUrl)),
    f("extra-index-urls", Ty::List(Check::IndexUrl)),
    f("compile-bytecode", Ty::Bool),
    f("prune-tests", Ty::Bool),
    f("netrc-secret", Ty::Str(Check::NonEmpty)),
    f(
        "layers",
        Ty::Tables {
            schema: &TIER,
            unique: Some("name"),
        },
    ),
]);

pub(crate) static APP: Schema = plain(&[
    f("include", Ty::List(Check::RelPath)),
    f("exclude", Ty::List(Check::NonEmpty)),
    f("compile-bytecode", Ty::Bool),
    f("default-excludes", Ty::Bool),
]);

pub(crate) static HEALTHCHECK: Schema = Schema {
    keys: &[
        f("cmd", Ty::NonEmptyList(Check::Any)),
        f("interval", Ty::Str(Check::Duration)),
        f("timeout", Ty::Str(Check::Duration)),
        f("start-period", Ty::Str(Check::Duration)),
        f(
            "retries",
            Ty::Int {
                min: 0,
                max: u32::MAX as i64,
            },
        ),
    ],
    required: &["cmd"],
    exactly_one: &[],
};

pub(crate) static RUN: Schema = plain(&[
    f("cmd", Ty::List(Check::Any)),
    f("entrypoint", Ty::List(Check::Any)),
    f("expose", Ty::Ports),
    f("stop-signal", Ty::Signal),
    f("healthcheck", Ty::Atomic(&HEALTHCHECK)),
]);

pub(crate) static GIT: Schema = Schema {
    keys: &[
        f("url", Ty::Str(Check::GitUrl)),
        f("ref", Ty::Str(Check::GitRef)),
        f("auth-secret", Ty::Str(Check::SecretId)),
        f("auth-header-secret", Ty::Str(Check::SecretId)),
    ],
    required: &["url"],
    exactly_one: &[],
};

pub(crate) static BUILD: Schema = Schema {
    keys: &[
        f("name", Ty::Str(Check::Name)),
        f("git", Ty::Atomic(&GIT)),
        f("context", Ty::NonEmptyList(Check::RelPath)),
        f("run", Ty::List(Check::Any)),
        f("cache", Ty::List(Check::AbsPath)),
        f(
            "outputs",
            Ty::Map {
                key: Check::AbsPath,
                value: Check::AbsPath,
            },
        ),
        f("venv", Ty::Str(Check::Name)),
        f(
            "env",
            Ty::Map {
                key: Check::EnvName,
                value: Check::Any,
            },
        ),
        f("secrets", Ty::List(Check::SecretId)),
        f("ssh", Ty::Bool),
        f("wheels-dir", Ty::Str(Check::AbsPath)),
    ],
    required: &["name"],
    // At most one: a step may have no sources (it builds from a tier's venv, or
    // downloads what it needs).
    exactly_one: &["git", "context"],
};

/// `[image]` inside `[dev]`: what a development target may set over the image.
pub(crate) static DEV_IMAGE: Schema = plain(&[f(
    "env",
    Ty::Map {
        key: Check::EnvName,
        value: Check::Any,
    },
)]);

/// `[dev]` and `[services.NAME.dev]`: overrides for the development target only
/// (`NAME-dev`), merged over the target's own settings last.
pub(crate) static DEV: Schema =
    plain(&[f("image", Ty::Table(&DEV_IMAGE)), f("run", Ty::Table(&RUN))]);

/// The tables a service, a variant and the top level share.
macro_rules! overridable {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            f("image", Ty::Table(&IMAGE)),
            f("system", Ty::Table(&SYSTEM)),
            f("python", Ty::Table(&PYTHON)),
            f("app", Ty::Table(&APP)),
            f("run", Ty::Table(&RUN)),
            f("build", Ty::Tables { schema: &BUILD, unique: Some("name") }),
        ]
    };
}

/// `[services.NAME]`, and also the merged table of one target.
pub(crate) static SERVICE: Schema = plain(overridable!(
    f("layers", Ty::List(Check::Name)),
    f("dev", Ty::Table(&DEV)),
));

pub(crate) static VARIANT: Schema = plain(overridable!(f(
    "services",
    Ty::Named {
        schema: &SERVICE,
        kind: NamedKind::VariantServices
    }
)));

pub(crate) static TOP: Schema = Schema {
    keys: overridable!(
        f("version", Ty::Version),
        f("args", Ty::Args),
        f(
            "services",
            Ty::Named {
                schema: &SERVICE,
                kind: NamedKind::Services
            }
        ),
        f(
            "variants",
            Ty::Named {
                schema: &VARIANT,
                kind: NamedKind::Variants
            }
        ),
        f("dev", Ty::Table(&DEV)),
    ),
    required: &["version"],
    exactly_one: &[],
};

/// Every table schema with a name for "`packages` belongs in [system]" hints.
pub(crate) static SECTIONS: &[(&str, &Schema)] = &[
    ("image", &IMAGE),
    ("system", &SYSTEM),
    ("python", &PYTHON),
    ("app", &APP),
    ("run", &RUN),
];
