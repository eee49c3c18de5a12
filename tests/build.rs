//! A program whose dependencies come only through Piraeus builds, with the same go.sum as a
//! direct build.

use crate::common::Sandbox;

#[test]
fn go_mod_tidy_and_go_build_through_piraeus_match_direct() {
    let sandbox = Sandbox::new();
    let dependency = sandbox.repo("dep.git");
    dependency.write("go.mod", "module example.test/dep.git\n\ngo 1.19\n");
    dependency.write(
        "dep.go",
        "package dep\n\nfunc Greeting() string { return \"hello from dep\" }\n",
    );
    dependency.commit("dep");
    dependency.tag("v1.2.0");
    let library = sandbox.repo("lib.git");
    library.write(
        "go.mod",
        "module example.test/lib.git/v2\n\ngo 1.19\n\nrequire example.test/dep.git v1.2.0\n",
    );
    library.write(
        "lib.go",
        "package lib\n\nimport \"example.test/dep.git\"\n\nfunc Message() string { return dep.Greeting() + \" via lib\" }\n",
    );
    library.commit("lib v2");
    library.tag("v2.0.1");

    let server = sandbox.start_server();
    let program = "package main\n\nimport (\n\t\"fmt\"\n\n\tlib \"example.test/lib.git/v2\"\n)\n\nfunc main() { fmt.Println(lib.Message()) }\n";
    let mut sums = Vec::new();
    // Only the proxy, no fallback: every module must come through Piraeus.
    for (name, goproxy) in [
        ("build-direct", "direct".to_string()),
        ("build-proxied", server.url()),
    ] {
        let client = sandbox.client(name, &goproxy);
        std::fs::write(client.work_dir().join("main.go"), program).unwrap();
        client.ok(&["mod", "init", "example.test/app"]);
        client.ok(&["mod", "tidy"]);
        client.ok(&["build", "-o", "app", "."]);
        let output = std::process::Command::new(client.work_dir().join("app"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "hello from dep via lib\n"
        );
        sums.push(std::fs::read_to_string(client.work_dir().join("go.sum")).unwrap());
    }
    assert_eq!(
        sums[0], sums[1],
        "go.sum through piraeus equals go.sum direct"
    );
    assert_eq!(
        sums[1].lines().count(),
        4,
        "zip and go.mod lines for both modules:\n{}",
        sums[1]
    );
}
